"""One line describing the virtual arm's joints, for `act-tool emulate --watch`."""

from __future__ import annotations

import numpy as np

from act_tool.hw.emulator.process import VirtualArm
from act_tool.hw.feetech.protocol import Reg
from act_tool.hw.so101.calibration import ArmCalibration
from act_tool.hw.so101.joints import JOINT_NAMES, SERVO_IDS
from act_tool.hw.so101.units import UnitConverter, Units


def positions_line(virtual: VirtualArm, calibration: ArmCalibration, unit: Units) -> str:
    """The virtual arm's present positions in `unit`, `name=value` pairs on one line."""
    counts = np.array([virtual.register(i, Reg.PRESENT_POSITION) for i in SERVO_IDS])
    values = UnitConverter(calibration, unit).to_units(counts, np.zeros(len(SERVO_IDS)))
    return "  ".join(f"{n}={v:7.2f}" for n, v in zip(JOINT_NAMES, values, strict=True))
