"""Ticks whose joint state is missing: held within the budget (no goal from a stale or missing
state), stopped past it with the servo named and torque off. In-memory fakes: fast."""

from __future__ import annotations

import json

import pytest

from act_tool.errors import ActToolError
from act_tool.hw.errors import BusTimeoutError, ChecksumError
from act_tool.hw.so101.joints import JOINT_NAMES
from act_tool.runtime.loop import LoopConfig, LoopError, run_loop
from act_tool.runtime.missed_state import MissedStateBudget, StateWatch
from act_tool.testing import specs
from act_tool.testing.fakes import FakeArm, FakeCameras, FakeRunner

NAMES = tuple(f"{j}.pos" for j in JOINT_NAMES)


class LossyArm(FakeArm):
    """A FakeArm whose reads fail (as the SO-101's do after their retries) at given reads."""

    def __init__(self, failing: set[int], error=None) -> None:
        super().__init__(JOINT_NAMES)
        self.failing = failing
        self.reads = 0
        self.error = error or (lambda: BusTimeoutError("sync-read", [6]))
        self.goal_reads: list[int] = []  # the read count when each goal was written

    def finish_read(self, out):
        self.reads += 1
        if self.reads - 1 in self.failing:  # read k is tick k's (preflight reads apart)
            self.finished += 1
            raise self.error()
        return super().finish_read(out)

    def write_goals(self, goals):
        self.goal_reads.append(self.reads)
        return super().write_goals(goals)

    def disable_torque(self):
        super().disable_torque()
        return ["servo 6 (gripper)"]


def run(arm, budget="3", ticks=12, n_action_steps=1, log_path=None):
    spec = specs.make_spec(chunk=5, names=NAMES)
    config = LoopConfig(
        fps=200, n_action_steps=n_action_steps, max_ticks=ticks, max_missed_state=budget,
        log_path=log_path,
    )  # fmt: skip
    runner = FakeRunner(spec)
    with runner:
        return run_loop(runner, arm, FakeCameras(), config, print), runner


@pytest.mark.parametrize("kind", ["lost", "corrupt"])
def test_a_short_outage_is_ridden_through_without_a_goal_from_missing_state(kind, tmp_path):
    error = (lambda: ChecksumError("sync-read", 6)) if kind == "corrupt" else None
    arm = LossyArm({3, 4, 5}, error)  # three ticks in a row: the budget holds 3
    summary, runner = run(arm, log_path=tmp_path / "run.jsonl")
    assert summary.ticks == 12 and summary.held_ticks == 3
    assert "held 3 ticks" in summary.faults and "held 3 ticks" in summary.table()
    # no goal written on a held tick: 9 goals, none right after a failed read
    assert len(arm.sent) == 9
    assert all(r - 1 not in arm.failing for r in arm.goal_reads)
    # every query (n_action_steps 1: every tick) saw a fresh state: no inference on held ticks
    assert summary.inferences == 9
    rows = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert [r["tick"] for r in rows if r["held"]] == [3, 4, 5]
    assert not arm.torque


def test_plain_ticks_hold_too():
    arm = LossyArm({2, 3})  # chunk mode: ticks 1-4 pick their actions without a query
    summary, _ = run(arm, n_action_steps=5)
    assert summary.held_ticks == 2 and len(arm.sent) == 10


def test_past_the_budget_the_run_stops_naming_the_servo_with_torque_off():
    arm = LossyArm(set(range(3, 100)))
    with pytest.raises(LoopError) as e:
        run(arm, budget="3")
    message = str(e.value)
    assert "missing in 4 consecutive ticks" in message
    assert "servo 6 (gripper) did not answer in any of them" in message
    assert "could not reach servo 6 (gripper)" in message
    assert not arm.torque and e.value.summary.held_ticks == 4
    assert len(arm.sent) == 3  # ticks 0 to 2 only


def test_budget_in_ms_is_converted_at_the_run_rate():
    assert MissedStateBudget.parse("100ms").ticks_at(30) == 3
    assert MissedStateBudget.parse("100ms").ticks_at(200) == 20
    assert MissedStateBudget.parse("4").ticks_at(30) == 4
    assert MissedStateBudget.parse("2 ticks").ticks_at(30) == 2
    assert MissedStateBudget.parse("34ms").ticks_at(30) == 1
    with pytest.raises(
        ActToolError, match=r"10ms is shorter than one tick at 30 Hz .*at least 34ms"
    ):
        MissedStateBudget.parse("10ms").ticks_at(30)


@pytest.mark.parametrize("text", ["0", "-3", "0ms", "-100ms", "abc", "1.5", "nan", "10s"])
def test_bad_budgets_are_refused(text):
    with pytest.raises(ActToolError, match="--max-missed-state"):
        LoopConfig(max_missed_state=text)


def test_watch_names_servos_missing_now_and_then_and_corrupt_ones():
    watch = StateWatch(1, 30.0, {1: "shoulder_pan", 6: "gripper"})
    watch.missed(BusTimeoutError("r", [6]))
    with pytest.raises(ActToolError) as e:
        watch.missed(ChecksumError("r", 1))
    text = str(e.value)
    assert "missing now and then from servo 6 (gripper), servo 1 (shoulder_pan)" in text
    assert "corrupted answers from servo 1 (shoulder_pan)" in text


def test_an_adapter_gone_stops_at_once_without_holding():
    from act_tool.hw.errors import PortDisconnectedError

    arm = LossyArm({4}, lambda: PortDisconnectedError("/dev/ttyACM0", "read failed"))
    with pytest.raises(LoopError, match="adapter disconnected") as e:
        run(arm)
    assert e.value.summary.held_ticks == 0 and len(arm.sent) == 4 and not arm.torque
