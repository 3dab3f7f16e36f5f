"""LeRobot units <-> model radians (pure numpy)."""

from __future__ import annotations

import math

import numpy as np

from act_tool.sim.units import (
    GRIPPER_HI,
    GRIPPER_LO,
    from_radians,
    gripper_from_radians,
    to_radians,
)

# Round trips multiply and divide by pi/180 or the gripper span once each way: a few float64
# ulps of values up to about 180, so 1e-12 is two orders above what rounding can reach.
ROUND_TRIP = 1e-12


def test_arm_degrees_are_radians_without_offset():
    rad = to_radians([90.0, -45.0, 30.0, 0.0, 180.0, 50.0])
    assert rad[:5].tolist() == [math.pi / 2, -math.pi / 4, math.pi / 6, 0.0, math.pi]


def test_gripper_spans_the_jaw_range():
    assert to_radians([0, 0, 0, 0, 0, 0.0])[5] == GRIPPER_LO  # 0 = closed
    assert math.isclose(to_radians([0, 0, 0, 0, 0, 100.0])[5], GRIPPER_HI, abs_tol=ROUND_TRIP)
    assert math.isclose(gripper_from_radians(math.radians(45.0)), 50.0, abs_tol=ROUND_TRIP)


def test_round_trip():
    rng = np.random.default_rng(0)
    values = np.column_stack([rng.uniform(-180, 180, (100, 5)), rng.uniform(0, 100, 100)])
    for row in values:
        back = from_radians(to_radians(row))
        np.testing.assert_allclose(back, row, rtol=0, atol=ROUND_TRIP)


def test_writes_into_the_callers_array():
    out = np.zeros(6)
    assert to_radians([10, 20, 30, 40, 50, 60], out) is out
    assert from_radians(out, out) is out
    np.testing.assert_allclose(out, [10, 20, 30, 40, 50, 60], rtol=0, atol=ROUND_TRIP)
