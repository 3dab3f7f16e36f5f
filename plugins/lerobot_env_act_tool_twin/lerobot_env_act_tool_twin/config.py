"""`--env.type=act_tool_twin`: the twin's observations and episodes as LeRobot's env options.

    lerobot-eval --env.type=act_tool_twin --policy.path=models/act_so101_twin \
        --eval.n_episodes=20 --eval.batch_size=1 --seed=1000 --policy.device=cpu

Options (`--env.NAME=VALUE`): cameras (default "front,handeye"), height and width of every
camera's frames (96, 128: `act-tool dataset sim`'s), fps (30: the policy's), units ("degrees" or
"range"), episode_time_s (12) and settle_s (1), as `act-tool eval --sim`'s --episode-time and its
settle time; results_path: a JSON-lines file that gets each episode's act-tool figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig
from lerobot.utils.constants import ACTION, OBS_IMAGES, OBS_STATE

from act_tool.errors import ActToolError
from act_tool.eval.sim_steps import StepperConfig
from act_tool.hw.so101.joints import JOINT_NAMES

ENV_TYPE = "act_tool_twin"


def _usage_error(message: str) -> SystemExit:
    """LeRobot's CLI prints a traceback for any exception raised while it parses options: a
    wrong option value exits with the message alone, as a usage error."""
    return SystemExit(f"--env.type={ENV_TYPE}: {message}")


@EnvConfig.register_subclass(ENV_TYPE)
@dataclass
class ActToolTwinEnvConfig(EnvConfig):
    task: str | None = "pick_place"
    fps: int = 30
    cameras: str = "front,handeye"
    height: int = 96
    width: int = 128
    units: str = "degrees"
    episode_time_s: float = 12.0
    settle_s: float = 1.0
    results_path: str | None = None
    results_trajectories: bool = False  # also each tick's joints in results_path
    features: dict[str, PolicyFeature] = field(default_factory=dict)
    features_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in (None, "pick_place"):
            raise _usage_error(
                f"--env.task={self.task}: the twin's cell has one task, pick_place (pick the "
                "cube, place it in the bowl); leave --env.task out"
            )
        try:
            stepper = self.stepper_config()
        except ActToolError as e:
            raise _usage_error(str(e)) from None
        n = len(JOINT_NAMES)
        self.features = {
            ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(n,)),
            "agent_pos": PolicyFeature(type=FeatureType.STATE, shape=(n,)),
        }
        self.features_map = {ACTION: ACTION, "agent_pos": OBS_STATE}
        for cam in stepper.cameras:
            self.features[f"pixels/{cam}"] = PolicyFeature(
                type=FeatureType.VISUAL, shape=(self.height, self.width, 3)
            )
            self.features_map[f"pixels/{cam}"] = f"{OBS_IMAGES}.{cam}"

    def stepper_config(self) -> StepperConfig:
        cameras = tuple(c.strip() for c in self.cameras.split(",") if c.strip())
        return StepperConfig(
            cameras=cameras,
            height=self.height,
            width=self.width,
            fps=self.fps,
            units=self.units,
            episode_time_s=self.episode_time_s,
            settle_s=self.settle_s,
        )

    @property
    def max_episode_steps(self) -> int:
        return self.stepper_config().max_ticks

    @property
    def gym_kwargs(self) -> dict:
        return {}

    def create_envs(self, n_envs: int, use_async_envs: bool = False):
        """{"act_tool_twin": {0: VectorEnv}}: `n_envs` twins, each in its own env (and, with
        async envs, its own process: each renders with its own OpenGL context)."""
        import gymnasium as gym
        from gymnasium.vector import AutoresetMode
        from lerobot.envs.utils import freeze_after_episode_end

        from lerobot_env_act_tool_twin.env import TwinEnv

        def make() -> gym.Env:
            return TwinEnv(self)

        factories = [freeze_after_episode_end(make) for _ in range(n_envs)]
        if use_async_envs and n_envs > 1:
            vec = gym.vector.AsyncVectorEnv(
                factories, autoreset_mode=AutoresetMode.SAME_STEP, context="spawn"
            )
        else:
            vec = gym.vector.SyncVectorEnv(factories, autoreset_mode=AutoresetMode.SAME_STEP)
        return {self.type: {0: vec}}
