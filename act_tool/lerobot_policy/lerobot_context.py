"""What the policy plugin needs to know about the LeRobot command that loads it.

LeRobot 0.6's `lerobot-rollout` loads the policy first and connects the robot afterwards
(`build_rollout_context`), and connecting an SO-101 enables its torque. So the plugin checks the
robot against the artifact while the policy loads: it finds the rollout's config (a local `cfg`
of `build_rollout_context`, with `.robot`) on the call stack, builds the robot object from it
(constructors do no I/O) and reads its declared features. A caller without such a config (a
script, `lerobot-eval`) gets None and no robot check.
"""

from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass
from typing import Any

from act_tool.errors import ActToolError

SUPPORTED_LEROBOT = ("0.6.",)


class LeRobotVersionError(ActToolError):
    pass


def check_lerobot_version() -> str:
    from lerobot import __version__

    if not __version__.startswith(SUPPORTED_LEROBOT):
        raise LeRobotVersionError(
            f"the act-tool policy plugin was built for LeRobot {' / '.join(v + 'x' for v in SUPPORTED_LEROBOT)}, "
            f"this is LeRobot {__version__}. Install the LeRobot it supports: "
            "pip install 'lerobot==0.6.1' (or act-tool's `export` extra), or an act-tool whose plugin "
            "supports this LeRobot."
        )
    return __version__


@dataclass(frozen=True)
class CallerRobot:
    """The robot a LeRobot command is about to connect, seen before it connects."""

    features: dict[str, Any]  # LeRobot's observation_features
    rename_map: dict[str, str]
    inference: str  # "sync", "rtc" (the rollout's --inference.type), "" where none
    units: str | None  # "degrees" / "range" where the robot's config says (use_degrees)


def rollout_config() -> Any | None:
    """The RolloutConfig (or any config with `.robot`) of the LeRobot command calling us."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            cfg = frame.f_locals.get("cfg")
            if cfg is not None and hasattr(cfg, "robot") and hasattr(cfg, "policy"):
                return cfg
            frame = frame.f_back
        return None
    finally:
        del frame


def caller_robot() -> CallerRobot | None:
    cfg = rollout_config()
    if cfg is None or getattr(cfg, "robot", None) is None:
        return None
    from lerobot.robots import make_robot_from_config

    robot = make_robot_from_config(cfg.robot)  # no I/O: the bus and cameras open in connect()
    inference = getattr(getattr(cfg, "inference", None), "type", "") or ""
    use_degrees = getattr(cfg.robot, "use_degrees", None)
    units = None if use_degrees is None else ("degrees" if use_degrees else "range")
    return CallerRobot(
        dict(robot.observation_features), dict(cfg.rename_map or {}), inference, units
    )


def in_lerobot_command() -> bool:
    """True inside a LeRobot console script (lerobot-rollout, lerobot-eval, ...)."""
    return os.path.basename(sys.argv[0]).startswith("lerobot") or rollout_config() is not None
