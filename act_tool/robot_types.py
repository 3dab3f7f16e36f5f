"""Robot types a policy is trained for, and the joint units LeRobot measures them in.

The export, training, hardware and simulation layers all need these facts (the SO-101's joint
names and order, LeRobot's `robot_type` string, the two unit conventions), so they live here at
the bottom of the import graph, beside `spec` and `errors`.

A robot type is LeRobot's name for the follower a dataset was recorded with (`robot_type` in the
dataset's meta/info.json, `--robot.type` on LeRobot's command line). A policy trained for one
type drives another wrongly even when the joint names agree (the links differ), so the spec
records it and `act-tool run` refuses an arm of another type.
"""

from __future__ import annotations

from dataclasses import dataclass

from act_tool.compat import StrEnum
from act_tool.errors import ActToolError


class Units(StrEnum):
    """Units of the body joints (the gripper is always 0..100), LeRobot's MotorNormMode.

    DEGREES: 0 at the middle of the calibrated range (LeRobot >= 0.4.4's default for SO-101);
    RANGE: LeRobot's RANGE_M100_100, the calibrated range mapped to -100..100 (older
    checkpoints were trained in it).
    """

    DEGREES = "degrees"
    RANGE = "range"

    @property
    def lerobot_name(self) -> str:
        """LeRobot's MotorNormMode name."""
        return "degrees" if self is Units.DEGREES else "range_m100_100"

    @classmethod
    def parse(cls, text: str | Units) -> Units:
        """A unit from its name here or LeRobot's (`range_m100_100`)."""
        value = str(text).strip().lower()
        for unit in cls:
            if value in (unit.value, unit.lerobot_name):
                return unit
        choices = ", ".join(f"{u.value} (LeRobot: {u.lerobot_name})" for u in cls)
        raise ActToolError(f"unknown units {str(text)!r}: choose one of {choices}")


@dataclass(frozen=True)
class RobotType:
    """One kind of follower arm: LeRobot's type name and its joints, in LeRobot's order."""

    name: str  # LeRobot's robot type, e.g. "so101_follower"
    joints: tuple[str, ...]  # "shoulder_pan", ...; LeRobot's feature keys add ".pos"
    description: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        """LeRobot's observation/action keys: `shoulder_pan.pos`, ..."""
        return tuple(f"{j}.pos" for j in self.joints)

    def dataset_features(
        self, cameras: tuple[str, ...], height: int, width: int, video: bool = False
    ) -> dict[str, dict]:
        """LeRobot dataset features of this arm's episodes: state and action (float32, one per
        joint key) and one image per camera (`video`: encoded as video, else stored frames)."""
        vec = {"dtype": "float32", "shape": (len(self.keys),), "names": list(self.keys)}
        features: dict[str, dict] = {"observation.state": dict(vec), "action": dict(vec)}
        for cam in cameras:
            features[f"observation.images.{cam}"] = {
                "dtype": "video" if video else "image",
                "shape": (height, width, 3),
                "names": ["height", "width", "channels"],
            }
        return features


SO101_FOLLOWER = RobotType(
    "so101_follower",
    ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"),
    "SO-101 follower arm: six Feetech STS3215 servos on one bus",
)
ROBOT_TYPES: dict[str, RobotType] = {SO101_FOLLOWER.name: SO101_FOLLOWER}
DEFAULT_ROBOT_TYPE = SO101_FOLLOWER.name


def robot_type(name: str) -> RobotType:
    """The robot type called `name`; an error naming the known ones otherwise."""
    try:
        return ROBOT_TYPES[name]
    except KeyError:
        known = ", ".join(ROBOT_TYPES)
        raise ActToolError(
            f"unknown robot type {name!r}: act-tool knows {known}. A policy trained for another "
            "arm cannot drive these."
        ) from None
