"""act-tool's SO-101 digital twin as a LeRobot environment: `lerobot-eval --env.type=act_tool_twin`.

LeRobot imports this package by its distribution name; importing it registers the env config
(`ActToolTwinEnvConfig`). The environment is a thin adapter over act_tool.eval.sim_steps: the
layouts per seed, the lockstep ticks and the success definition are `act-tool eval --sim`'s.
"""

from lerobot_env_act_tool_twin.config import ENV_TYPE, ActToolTwinEnvConfig

__all__ = ["ENV_TYPE", "ActToolTwinEnvConfig"]
