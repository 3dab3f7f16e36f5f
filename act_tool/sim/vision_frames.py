"""Camera frames with their ground truth, for teaching a vision backbone what the policy must see.

Each layout (one seed) plays the scripted expert's episode with a smooth random offset added to
its goals (so the arm is seen in poses the expert alone never takes, as a policy's arm is), and
every `every`-th tick both cameras are rendered with what the twin knows at that instant:

    cube x, y, z (m) | cos 4*yaw, sin 4*yaw (the cube repeats every 90 degrees) | bowl x, y (m)
    | the grip centre x, y, z (m) | the cube relative to the grip centre (m) | six joints (LeRobot
    units / 100)

Pure numpy and MuJoCo (no torch): the backbone's trainer lives in `act_tool.train`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from act_tool.sim.errors import SimError
from act_tool.sim.expert import ScriptedExpert, smooth_offsets
from act_tool.sim.twin import CAMERAS, Twin, TwinConfig

TARGETS = (
    "cube_x",
    "cube_y",
    "cube_z",
    "cube_cos4yaw",
    "cube_sin4yaw",
    "bowl_x",
    "bowl_y",
    "grip_x",
    "grip_y",
    "grip_z",
    "cube_from_grip_x",
    "cube_from_grip_y",
    "cube_from_grip_z",
    "shoulder_pan",
    "shoulder_lift",
    "elbow_flex",
    "wrist_flex",
    "wrist_roll",
    "gripper",
)
CUBE_POSITION = slice(0, 3)  # the targets' cube position, for errors in metres
GOAL_NOISE = (6.0, 6.0, 6.0, 6.0, 10.0, 10.0)  # LeRobot units: the offsets' standard deviation


@dataclass(frozen=True)
class VisionFramesConfig:
    seeds: Sequence[int]
    height: int = 96
    width: int = 128
    fps: int = 30
    every: int = 4  # ticks between kept frames
    noise: float = 1.0  # scales GOAL_NOISE (0: the expert's own poses)

    def __post_init__(self) -> None:
        if not self.seeds:
            raise SimError("vision frames need at least one layout seed")
        if min(self.seeds) < 0:
            raise SimError("layout seeds must be non-negative integers")
        if not (16 <= self.height <= 1080 and 16 <= self.width <= 1920):
            raise SimError("images must be 16..1080 pixels high and 16..1920 wide")
        if self.every < 1:
            raise SimError("every must be at least 1 tick")
        if self.noise < 0:
            raise SimError("noise must be non-negative")


@dataclass(frozen=True)
class VisionFrames:
    images: dict[str, np.ndarray]  # camera -> (N, H, W, 3) uint8, RGB (LeRobot's order)
    targets: np.ndarray  # (N, len(TARGETS)) float32
    seeds: np.ndarray  # (N,) the layout each frame came from


def cube_yaw(quaternion: np.ndarray) -> float:
    """The cube's rotation about the vertical axis, rad (w, x, y, z quaternion)."""
    w, x, y, z = quaternion
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def frame_targets(twin: Twin, out: np.ndarray) -> np.ndarray:
    """The twin's ground truth now, in the order of TARGETS."""
    state = twin.cell_state()
    cube = twin.cube_pose()
    yaw4 = 4.0 * cube_yaw(cube.quaternion)
    out[0:3] = cube.position
    out[3:5] = (math.cos(yaw4), math.sin(yaw4))
    out[5:7] = state.bowl_position[:2]
    out[7:10] = state.pads_center
    out[10:13] = cube.position - state.pads_center
    out[13:19] = twin.joint_positions() / 100.0
    return out


def render_vision_frames(
    cfg: VisionFramesConfig, on_layout: Callable[[int], None] = lambda _: None
) -> VisionFrames:
    """Plays every layout of `cfg.seeds` and keeps every `cfg.every`-th tick's frames."""
    images: dict[str, list[np.ndarray]] = {cam: [] for cam in CAMERAS}
    targets, seeds = [], []
    config = TwinConfig(max_height=max(480, cfg.height), max_width=max(640, cfg.width))
    with Twin(config) as twin:
        expert = ScriptedExpert(twin.kinematics, twin.home, cfg.fps)
        for n, seed in enumerate(cfg.seeds):
            layout = twin.reset(seed)
            plan = expert.plan(layout)
            rng = np.random.default_rng([seed, 0x715])
            goals = plan.goals + smooth_offsets(
                rng, len(plan.goals), np.asarray(GOAL_NOISE) * cfg.noise
            )
            phase = int(rng.integers(cfg.every))
            for tick, goal in enumerate(goals):
                if tick % cfg.every == phase:
                    for cam in CAMERAS:
                        frame = np.empty((cfg.height, cfg.width, 3), dtype=np.uint8)
                        images[cam].append(twin.render(cam, frame, rgb=True))
                    targets.append(frame_targets(twin, np.empty(len(TARGETS), np.float32)))
                    seeds.append(seed)
                twin.set_goals(goal)
                twin.step(1.0 / cfg.fps)
            on_layout(n + 1)
    return VisionFrames(
        images={cam: np.stack(frames) for cam, frames in images.items()},
        targets=np.stack(targets),
        seeds=np.asarray(seeds),
    )
