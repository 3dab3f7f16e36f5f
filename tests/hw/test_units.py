"""Units: bit-for-bit LeRobot's _normalize / _unnormalize (lerobot 0.6.1), vectorised."""

from __future__ import annotations

import numpy as np
import pytest

from act_tool.errors import ActToolError
from act_tool.hw.so101 import ArmCalibration, JointCalibration, UnitConverter, Units
from act_tool.hw.so101.joints import JOINT_NAMES


def lerobot_bus(calibration: ArmCalibration, units: Units):
    pytest.importorskip("lerobot", reason="LeRobot is not installed")
    from lerobot.motors import Motor, MotorCalibration, MotorNormMode
    from lerobot.motors.feetech import FeetechMotorsBus

    body = MotorNormMode.DEGREES if units is Units.DEGREES else MotorNormMode.RANGE_M100_100
    motors = {
        name: Motor(i + 1, "sts3215", MotorNormMode.RANGE_0_100 if name == "gripper" else body)
        for i, name in enumerate(JOINT_NAMES)
    }
    cal = {
        name: MotorCalibration(c.id, c.drive_mode, c.homing_offset, c.range_min, c.range_max)
        for name, c in zip(JOINT_NAMES, calibration.joints, strict=True)
    }
    return FeetechMotorsBus(port="/dev/null", motors=motors, calibration=cal)  # no I/O


def random_calibration(rng: np.random.Generator) -> ArmCalibration:
    joints = []
    for i in range(6):
        lo = int(rng.integers(0, 2000))
        hi = int(rng.integers(lo + 1, 4096))
        joints.append(
            JointCalibration(i + 1, int(rng.integers(0, 2)), int(rng.integers(-2047, 2048)), lo, hi)
        )
    return ArmCalibration(tuple(joints))


@pytest.mark.parametrize("units", list(Units))
def test_counts_to_units_matches_lerobot(units: Units):
    rng = np.random.default_rng(0)
    for _ in range(30):
        cal = random_calibration(rng)
        lr = lerobot_bus(cal, units)
        conv = UnitConverter(cal, units)
        out = np.zeros(6, dtype=np.float32)
        out64 = np.zeros(6, dtype=np.float64)
        for _ in range(20):
            counts = rng.integers(0, 4096, size=6)
            expected = lr._normalize({i + 1: int(c) for i, c in enumerate(counts)})
            want = np.array([expected[i + 1] for i in range(6)])
            conv.to_units(counts, out64)
            np.testing.assert_array_equal(out64, want)  # bit-identical in float64
            np.testing.assert_array_equal(conv.to_units(counts, out), want.astype(np.float32))


@pytest.mark.parametrize("units", list(Units))
def test_units_to_counts_matches_lerobot(units: Units):
    rng = np.random.default_rng(1)
    counts_out = np.zeros(6, dtype=np.int64)
    for _ in range(30):
        cal = random_calibration(rng)
        lr = lerobot_bus(cal, units)
        conv = UnitConverter(cal, units)
        for _ in range(20):
            # values inside the calibrated range (LeRobot does not clamp degrees; we do)
            values = rng.uniform(conv.unit_min, conv.unit_max).astype(np.float32)
            expected = lr._unnormalize({i + 1: float(v) for i, v in enumerate(values)})
            conv.to_counts(values, counts_out)
            assert counts_out.tolist() == [expected[i + 1] for i in range(6)]


@pytest.mark.parametrize("units", list(Units))
def test_round_trip_counts(units: Units):
    cal = random_calibration(np.random.default_rng(2))
    conv = UnitConverter(cal, units)
    lo = np.array([c.range_min for c in cal.joints])
    hi = np.array([c.range_max for c in cal.joints])
    back = np.zeros(6, dtype=np.int64)
    for counts in (lo, hi, (lo + hi) // 2):
        values = conv.to_units(counts, np.zeros(6))
        conv.to_counts(values, back)
        # int() truncation can lose one count, as in LeRobot
        assert np.all(np.abs(back - counts) <= 1)


def test_goals_outside_the_range_are_clamped():
    import dataclasses

    cal = random_calibration(np.random.default_rng(3))
    cal = ArmCalibration(tuple(dataclasses.replace(c, drive_mode=0) for c in cal.joints))
    conv = UnitConverter(cal, Units.DEGREES)
    counts = conv.to_counts(np.full(6, 1e6), np.zeros(6, dtype=np.int64))
    assert counts.tolist() == [c.range_max for c in cal.joints]
    counts = conv.to_counts(np.full(6, -1e6), np.zeros(6, dtype=np.int64))
    assert counts.tolist() == [c.range_min for c in cal.joints]


def test_units_parse_error_names_choices():
    assert Units.parse("degrees") is Units.DEGREES
    assert Units.parse("range_m100_100") is Units.RANGE  # LeRobot's name for it
    with pytest.raises(ActToolError, match="range_m100_100"):
        Units.parse("radians")
