"""--on-stop park: the arm moves back to its start pose before torque off on an intentional end
or a failure that is not the bus's, never on a bus fault. In-memory fakes."""

from __future__ import annotations

import numpy as np
import pytest

from act_tool.errors import ActToolError
from act_tool.hw.so101.joints import JOINT_NAMES
from act_tool.runtime.loop import LoopConfig, LoopError, run_loop
from act_tool.testing import specs
from act_tool.testing.fakes import FakeArm, FakeCameras, FakeRunner
from tests.runtime.test_missed_state import NAMES, LossyArm


def run(arm, on_stop: str):
    spec = specs.make_spec(chunk=5, names=NAMES)
    config = LoopConfig(
        fps=200, n_action_steps=5, max_ticks=8, on_stop=on_stop, max_missed_state="2"
    )
    notes: list[str] = []
    with FakeRunner(spec, chunk_value=5.0) as runner:
        run_loop(runner, arm, FakeCameras(), config, notes.append)
    return notes


def test_park_returns_to_the_start_pose_then_torque_off():
    arm = FakeArm(JOINT_NAMES)
    start = arm.state.copy()  # what preflight reads
    notes = run(arm, "park")
    np.testing.assert_allclose(arm.sent[-1], start, atol=1e-6)
    assert not np.allclose(arm.sent[7], start)  # the run's own goals went elsewhere
    assert not arm.torque and any("parked at the start pose" in n for n in notes)


def test_torque_off_by_default_without_parking():
    arm = FakeArm(JOINT_NAMES)
    run(arm, "torque-off")
    assert len(arm.sent) == 8 and not arm.torque


def test_a_bus_fault_never_parks():
    arm = LossyArm(set(range(3, 100)))
    with pytest.raises(LoopError, match="did not answer"):
        run(arm, "park")
    assert len(arm.sent) == 3 and not arm.torque  # ticks 0-2, no parking goals


def test_bad_on_stop_is_refused():
    with pytest.raises(ActToolError, match="--on-stop 'fly': use one of torque-off, park"):
        LoopConfig(on_stop="fly")
