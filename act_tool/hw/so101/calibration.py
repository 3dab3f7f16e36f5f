"""LeRobot's SO-101 calibration files: where they live, reading and writing them.

A file is JSON, one entry per joint name: id, drive_mode, homing_offset, range_min, range_max.
LeRobot >= 0.5 keeps it in $HF_LEROBOT_HOME/calibration/robots/so_follower/<id>.json;
0.4.x used robots/so101_follower/.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from act_tool.hw.errors import LEROBOT_CALIBRATE_HINT, CalibrationError
from act_tool.hw.so101.joints import JOINT_NAMES, JOINTS

ROBOT_FOLDERS = ("so_follower", "so101_follower")  # newest first


@dataclass(frozen=True)
class JointCalibration:
    id: int
    drive_mode: int
    homing_offset: int
    range_min: int
    range_max: int

    def __post_init__(self) -> None:
        if self.drive_mode not in (0, 1):
            raise CalibrationError(f"drive_mode must be 0 or 1, got {self.drive_mode}")
        if not 0 <= self.range_min < self.range_max <= 4095:
            raise CalibrationError(
                f"servo {self.id}: need 0 <= range_min < range_max <= 4095, "
                f"got {self.range_min}..{self.range_max}"
            )
        if abs(self.homing_offset) > 2047:
            raise CalibrationError(f"servo {self.id}: homing_offset {self.homing_offset} > 2047")


@dataclass(frozen=True)
class ArmCalibration:
    """One JointCalibration per joint, in LeRobot's joint order."""

    joints: tuple[JointCalibration, ...]

    def __post_init__(self) -> None:
        if len(self.joints) != len(JOINTS):
            raise CalibrationError(f"need {len(JOINTS)} joints, got {len(self.joints)}")
        for joint, cal in zip(JOINTS, self.joints, strict=True):
            if cal.id != int(joint):
                raise CalibrationError(f"{joint.key} must have servo id {int(joint)}, not {cal.id}")

    def to_json_dict(self) -> dict[str, dict[str, int]]:
        return {name: asdict(cal) for name, cal in zip(JOINT_NAMES, self.joints, strict=True)}

    @classmethod
    def from_json_dict(cls, data: dict, source: str = "calibration") -> ArmCalibration:
        missing = [n for n in JOINT_NAMES if n not in data]
        if missing:
            raise CalibrationError(f"{source}: no entry for joint(s) {missing}")
        joints = []
        for name in JOINT_NAMES:
            entry = data[name]
            try:
                joints.append(
                    JointCalibration(
                        **{k: int(entry[k]) for k in JointCalibration.__dataclass_fields__}
                    )
                )
            except (KeyError, TypeError, ValueError) as e:
                raise CalibrationError(f"{source}: bad entry for '{name}': {e}") from e
        return cls(tuple(joints))


def lerobot_home() -> Path:
    default = Path("~/.cache/huggingface/lerobot")
    return Path(os.environ.get("HF_LEROBOT_HOME", default)).expanduser()


def calibration_root() -> Path:
    """LeRobot's calibration folder ($HF_LEROBOT_CALIBRATION, else $HF_LEROBOT_HOME/calibration)."""
    env = os.environ.get("HF_LEROBOT_CALIBRATION")
    return Path(env).expanduser() if env else lerobot_home() / "calibration"


def candidate_paths(robot_id: str, root: Path | None = None) -> list[Path]:
    base = (root if root is not None else calibration_root()) / "robots"
    return [base / folder / f"{robot_id}.json" for folder in ROBOT_FOLDERS]


def find_calibration(robot_id: str, root: Path | None = None, port: str = "<port>") -> Path:
    """The calibration file for `robot_id` (so_follower/ first, then 0.4.x so101_follower/)."""
    paths = candidate_paths(robot_id, root)
    for path in paths:
        if path.is_file():
            return path
    raise CalibrationError(
        f"no calibration file for robot id '{robot_id}' (looked for {', '.join(map(str, paths))}). "
        + LEROBOT_CALIBRATE_HINT.format(port=port, robot_id=robot_id)
    )


def load_calibration(path: Path) -> ArmCalibration:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as e:
        raise CalibrationError(f"calibration file {path} does not exist") from e
    except (OSError, json.JSONDecodeError) as e:
        raise CalibrationError(f"cannot read calibration file {path}: {e}") from e
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: expected a JSON object of joints")
    return ArmCalibration.from_json_dict(data, source=str(path))


def save_calibration(calibration: ArmCalibration, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(calibration.to_json_dict(), indent=4) + "\n")
    return path
