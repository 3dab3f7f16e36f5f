"""The twin as a gymnasium env, in LeRobot's observation layout (`pixels` per camera, uint8 RGB
(H, W, 3); `agent_pos`, float32 joints in LeRobot units) with the joints' goals as the action.

`reset(seed=s)` lays out the cell for seed s (`act-tool eval --sim`'s episode of seed s);
`reset()` without a seed takes the next one. Each `step` is one lockstep tick of
act_tool.eval.sim_steps. `info["is_success"]` is the task's verdict at the episode's end (False
before it), beside act-tool's other figures (grasp_attempts, successful_grasps,
steps_to_success: -1 for none); the reward is 1 on the ticks the cube lies in the bowl,
released. With `results_path`, each finished episode's figures are appended there as a JSON line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from act_tool.eval.sim_steps import Observation, SimStepper
from act_tool.hw.so101.joints import JOINT_NAMES


class TwinEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config
        stepper = config.stepper_config()
        self.metadata = {**self.metadata, "render_fps": stepper.fps}
        self.render_mode = "rgb_array"
        self._max_episode_steps = stepper.max_ticks  # read by lerobot-eval
        self.task = config.task
        self.task_description = "pick the cube and place it in the bowl"
        n = len(JOINT_NAMES)
        image = gym.spaces.Box(0, 255, (stepper.height, stepper.width, 3), np.uint8)
        self.observation_space = gym.spaces.Dict(
            {
                "pixels": gym.spaces.Dict({c: image for c in stepper.cameras}),
                "agent_pos": gym.spaces.Box(-np.inf, np.inf, (n,), np.float32),
            }
        )
        self.action_space = gym.spaces.Box(-np.inf, np.inf, (n,), np.float32)
        self._stepper_config = stepper
        self._stepper: SimStepper | None = None  # made at the first reset (MuJoCo, OpenGL)
        self._seed: int | None = None
        self._last: Observation | None = None

    @property
    def stepper(self) -> SimStepper:
        if self._stepper is None:
            self._stepper = SimStepper(self._stepper_config)
        return self._stepper

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is None:
            seed = 0 if self._seed is None else self._seed + 1
        self._seed = int(seed)
        self._last = self.stepper.reset(self._seed)
        return self._obs(self._last), {"seed": self._seed, "is_success": False}

    def step(self, action):
        stepper = self.stepper
        self._last, terminated, truncated = stepper.step(np.asarray(action, dtype=np.float32))
        reward = 1.0 if stepper.task_done() else 0.0
        info: dict[str, Any] = {"is_success": False}
        if terminated or truncated:
            result = stepper.result()
            info = {
                "is_success": bool(result.success),
                "grasp_attempts": result.grasp_attempts,
                "successful_grasps": result.successful_grasps,
                "steps_to_success": -1
                if result.steps_to_success is None
                else result.steps_to_success,
                "ticks": result.ticks,
            }
            self._write(result.to_dict(with_trajectory=self.config.results_trajectories))
        return self._obs(self._last), reward, terminated, truncated, info

    def render(self):
        if self._last is None:
            return None
        return next(iter(self._last.frames.values()))

    def close(self) -> None:
        if self._stepper is not None:
            self._stepper.close()
            self._stepper = None

    def _obs(self, observation: Observation) -> dict:
        return {"pixels": dict(observation.frames), "agent_pos": observation.state.copy()}

    def _write(self, record: dict) -> None:
        path = self.config.results_path
        if path:
            with Path(path).open("a") as f:
                f.write(json.dumps(record) + "\n")
