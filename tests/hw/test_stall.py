"""The stall guard on plain numbers: a joint held away from its goal with its shaft still is
backed off; one on its way (its shaft moving) is not; the overload bit acts at once; a goal on
the other side releases it."""

from __future__ import annotations

import pytest

from act_tool.hw.feetech.protocol import ErrorBit
from act_tool.hw.so101.stall import StallConfig, StallGuard

C = StallConfig()  # 60 counts held 0.5 s, shaft within 20 counts, back off to 15


def step(guard: StallGuard, goal: int, present: int, t: float, bits: int = 0) -> int:
    goals = [2000] * 5 + [goal]
    guard.apply(goals, [2000] * 5 + [present], [0] * 5 + [bits], t)
    return goals[5]


def test_a_squeezing_gripper_is_backed_off_after_the_hold_time():
    guard = StallGuard(C, 6)
    assert step(guard, 1000, 1500, 0.0) == 1000  # pushing, not yet long enough
    assert step(guard, 1000, 1502, 0.4) == 1000
    assert step(guard, 1000, 1501, 0.55) == 1501 - 15  # held: backed off toward its goal
    assert step(guard, 1000, 1501, 0.6) == 1486
    assert guard.events == [0] * 5 + [1]


def test_a_moving_joint_is_never_backed_off():
    guard = StallGuard(C, 6)
    present = 3000
    for k in range(100):  # 2 s on the way to a far goal, 30 counts a tick
        present -= 30
        assert step(guard, 0, present, k * 0.02) == 0
    assert guard.events == [0] * 6


def test_overload_acts_at_once_and_the_other_side_releases():
    guard = StallGuard(C, 6)
    assert step(guard, 1000, 1500, 0.0, int(ErrorBit.OVERLOAD)) == 1485
    assert step(guard, 1000, 1500, 0.1) == 1485  # still stalled while pushing
    assert step(guard, 2500, 1500, 0.2) == 2500  # the policy opens the gripper: released
    assert step(guard, 1480, 1500, 0.3) == 1480  # within reach: nothing to do


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError):
        StallConfig(error_counts=10, backoff_counts=15)
    with pytest.raises(ValueError):
        StallConfig(hold_s=0)
