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


class StoppedWhileParking(FakeArm):
    """Raises `error` on the first goal written after the run's own `ticks` goals: the park."""

    def __init__(self, error: BaseException, ticks: int = 8) -> None:
        super().__init__(JOINT_NAMES)
        self.error, self.ticks = error, ticks

    def write_goals(self, goals: np.ndarray) -> np.ndarray:
        if len(self.sent) >= self.ticks:
            raise self.error
        return super().write_goals(goals)


@pytest.mark.parametrize("error", [SystemExit(143), RuntimeError("a bug")])
def test_a_signal_or_a_bug_while_parking_still_turns_torque_off(error):
    """SIGTERM arrives as SystemExit: the park stops, torque goes off, then it is raised again."""
    arm = StoppedWhileParking(error)
    arm.__enter__()  # torque on, as the run's arm is; nothing else turns it off in this test
    with pytest.raises(type(error)):
        run(arm, "park")
    assert not arm.torque and len(arm.sent) == 8
