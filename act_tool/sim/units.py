"""LeRobot's SO-101 units <-> the twin's joint radians.

LeRobot (>= 0.4, `MotorNormMode.DEGREES`) reports the five arm joints in degrees with 0 at the
middle of each joint's calibrated range, `(raw - (min + max) / 2) * 360 / 4095`, and the gripper
as 0 (closed, `range_min`) .. 100 (open, `range_max`), `(raw - min) / (max - min) * 100`.

The twin's kinematics are TheRobotStudio's `so101_new_calib` frames, the model LeRobot's own
kinematics (`RobotKinematics`) drives with `deg2rad` of these degrees: joint zero is the middle
pose the calibration sweeps around (upper arm vertical, forearm and hand horizontal, pointing
forward), and each joint turns the way the servo counts grow. So:

- arm joint:  radians = degrees * pi / 180                      (no offset, no sign change)
- gripper:    radians = GRIPPER_LO + gripper / 100 * (GRIPPER_HI - GRIPPER_LO)
              with the model's jaw range GRIPPER_LO = -10 deg (closed, squeezing) ..
              GRIPPER_HI = 100 deg (fully open)

The jaw pads touch near -1.6 deg (gripper about 7.6); a 3 cm cube is held from about 19 deg
(gripper about 26) on. Pure numpy: usable without MuJoCo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from act_tool.hw.so101.joints import JOINTS, Joint

GRIPPER = JOINTS.index(Joint.GRIPPER)
ARM = tuple(i for i in range(len(JOINTS)) if i != GRIPPER)
GRIPPER_LO = math.radians(-10.0)
GRIPPER_HI = math.radians(100.0)
_DEG = math.pi / 180.0


def gripper_to_radians(gripper: float) -> float:
    """LeRobot's gripper 0..100 -> the jaw joint's radians."""
    return GRIPPER_LO + gripper / 100.0 * (GRIPPER_HI - GRIPPER_LO)


def gripper_from_radians(radians: float) -> float:
    """The jaw joint's radians -> LeRobot's gripper 0..100."""
    return (radians - GRIPPER_LO) / (GRIPPER_HI - GRIPPER_LO) * 100.0


def to_radians(values: Sequence[float] | np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Six joint values in LeRobot units (degrees, gripper 0..100) -> model radians."""
    out = np.empty(len(JOINTS)) if out is None else out
    for i in ARM:
        out[i] = values[i] * _DEG
    out[GRIPPER] = gripper_to_radians(values[GRIPPER])
    return out


def from_radians(
    radians: Sequence[float] | np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Six model joint radians -> LeRobot units (degrees, gripper 0..100)."""
    out = np.empty(len(JOINTS)) if out is None else out
    for i in ARM:
        out[i] = radians[i] / _DEG
    out[GRIPPER] = gripper_from_radians(radians[GRIPPER])
    return out
