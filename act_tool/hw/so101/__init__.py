"""The SO-101 follower arm: joints, LeRobot calibration files, units, and the arm itself."""

from act_tool.hw.so101.arm import ArmConfig, SO101Arm
from act_tool.hw.so101.calibration import (
    ArmCalibration,
    JointCalibration,
    find_calibration,
    load_calibration,
    save_calibration,
)
from act_tool.hw.so101.joints import JOINT_KEYS, JOINT_NAMES, JOINTS, SERVO_IDS, Joint
from act_tool.hw.so101.units import UnitConverter, Units

__all__ = [
    "JOINTS",
    "JOINT_KEYS",
    "JOINT_NAMES",
    "SERVO_IDS",
    "ArmCalibration",
    "ArmConfig",
    "Joint",
    "JointCalibration",
    "SO101Arm",
    "UnitConverter",
    "Units",
    "find_calibration",
    "load_calibration",
    "save_calibration",
]
