"""`act-tool emulate --watch`: the virtual arm's joints in the chosen units."""

from __future__ import annotations

import re

import numpy as np

from act_tool.hw.emulator import DEFAULT_CALIBRATION, VirtualArm
from act_tool.hw.emulator.watch import positions_line
from act_tool.hw.feetech.protocol import Reg
from act_tool.hw.so101.joints import JOINT_NAMES
from act_tool.hw.so101.units import UnitConverter, Units


def test_positions_line_reports_each_joint_in_units(virtual_arm: VirtualArm):
    line = positions_line(virtual_arm, DEFAULT_CALIBRATION, Units.DEGREES)
    pairs = dict(re.findall(r"(\w+)=\s*(-?[\d.]+)", line))
    assert list(pairs) == list(JOINT_NAMES)
    counts = np.array([virtual_arm.register(i, Reg.PRESENT_POSITION) for i in range(1, 7)])
    expected = UnitConverter(DEFAULT_CALIBRATION, Units.DEGREES).to_units(counts, np.zeros(6))
    np.testing.assert_allclose([float(v) for v in pairs.values()], expected, atol=0.01)
