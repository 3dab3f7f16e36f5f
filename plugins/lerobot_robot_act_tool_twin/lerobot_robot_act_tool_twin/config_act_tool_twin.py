"""`--robot.type=act_tool_twin`: the twin's options on LeRobot's command line.

    --robot.type=act_tool_twin [--robot.seed=0] [--robot.camera_names=front,handeye]
        [--robot.height=96 --robot.width=128] [--robot.fps=30] [--robot.units=degrees]
        [--robot.max_relative_target=DEG]

seed: the cell's layout (`act-tool eval --sim`'s episode of that seed); camera_names, height,
width: the rendered cameras (default: `act-tool dataset sim`'s frames; the real arm's are
480x640, which software rendering draws far below 30 fps); fps: how often each camera renders;
units: the joints' ("degrees" or "range"; the gripper is 0..100); max_relative_target: the
largest goal step from the present position, as LeRobot's SO-101 option.
"""

from __future__ import annotations

from dataclasses import dataclass

from lerobot.robots.config import RobotConfig

from act_tool.errors import ActToolError
from act_tool.robot_types import Units
from act_tool.sim.twin import CAMERAS

ROBOT_TYPE = "act_tool_twin"


def _usage_error(message: str) -> SystemExit:
    """LeRobot's CLI prints a traceback for any exception raised while it parses options: a
    wrong option value exits with the message alone, as a usage error."""
    return SystemExit(f"--robot.type={ROBOT_TYPE}: {message}")


@RobotConfig.register_subclass(ROBOT_TYPE)
@dataclass(kw_only=True)
class ActToolTwinRobotConfig(RobotConfig):
    seed: int = 0
    camera_names: str = ",".join(CAMERAS)
    height: int = 96
    width: int = 128
    fps: int = 30
    units: str = Units.DEGREES.value
    max_relative_target: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        cameras = self.cameras_tuple
        unknown = [c for c in cameras if c not in CAMERAS]
        if unknown or not cameras:
            raise _usage_error(
                f"--robot.camera_names={self.camera_names}: the twin has the cameras "
                f"{', '.join(CAMERAS)}; name one or both, e.g. --robot.camera_names={','.join(CAMERAS)}"
            )
        if not (16 <= self.height <= 1080 and 16 <= self.width <= 1920):
            raise _usage_error(
                f"camera size {self.height}x{self.width}: choose --robot.height 16..1080 and "
                "--robot.width 16..1920 (e.g. 96 and 128, the twin dataset's)"
            )
        if not 1 <= self.fps <= 120:
            raise _usage_error(f"--robot.fps={self.fps}: choose 1..120 (e.g. 30)")
        try:
            Units.parse(self.units)
        except ActToolError as e:
            raise _usage_error(f"--robot.units={self.units}: {e}") from None
        if self.seed < 0:
            raise _usage_error(f"--robot.seed={self.seed}: seeds are non-negative integers")
        if self.max_relative_target is not None and self.max_relative_target <= 0:
            raise _usage_error(
                "--robot.max_relative_target must be positive (degrees), or left out"
            )

    @property
    def cameras_tuple(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in self.camera_names.split(",") if c.strip())
