"""Real-time priority of the control thread: raised where permitted, put back, explained where not."""

from __future__ import annotations

import os
import threading

import pytest

from act_tool.runtime import realtime
from act_tool.runtime.loop import run_loop
from act_tool.runtime.realtime import raise_priority

from .test_loop import config, rig

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setscheduler"), reason="real-time scheduling is Linux only"
)


def in_thread(fn):
    """Run fn on a fresh thread (a priority change stays off pytest's own thread)."""
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as e:  # re-raised below
            result["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join(30)
    if "error" in result:
        raise result["error"]
    return result["value"]


def permitted() -> bool:
    def probe() -> bool:
        restore, _ = raise_priority(1)
        if restore is None:
            return False
        restore()
        return True

    return in_thread(probe)


def test_raised_and_restored_where_permitted():
    if not permitted():
        pytest.skip("this user may not use real-time scheduling (no rtprio limit)")

    def body():
        before = os.sched_getscheduler(0)
        restore, note = raise_priority(12)
        during = (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)
        restore()
        return before, during, os.sched_getscheduler(0), note

    before, during, after, note = in_thread(body)
    assert during == (os.SCHED_FIFO, 12)
    assert after == before != os.SCHED_FIFO
    assert "SCHED_FIFO 12" in note


def test_refusal_says_how_to_allow_it(monkeypatch):
    def refuse(*_):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(realtime.os, "sched_setscheduler", refuse)
    restore, note = raise_priority(40)
    assert restore is None
    assert "rtprio 40" in note and "limits.conf" in note and "--rt-priority 0" in note


def test_permitted_tries_and_puts_back(monkeypatch):
    def probe():
        before = (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)
        answer = realtime.permitted(9)
        return before, answer, (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)

    before, answer, after = in_thread(probe)
    assert answer == permitted() and after == before
    assert realtime.permitted(0) is False

    def refuse(*_):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(realtime.os, "sched_setscheduler", refuse)
    assert realtime.permitted(40) is False


def test_zero_leaves_the_thread_alone_and_bad_values_are_refused():
    assert raise_priority(0) == (None, "normal priority (--rt-priority 0)")
    with pytest.raises(ValueError, match="1..99"):
        raise_priority(100)


def test_loop_ticks_at_real_time_priority_and_puts_it_back(tiny_onnx, tmp_path):
    """During the ticks the control thread is SCHED_FIFO (where permitted); after the loop it is
    back to normal, and the log says which priority the loop used."""
    if not permitted():
        pytest.skip("this user may not use real-time scheduling (no rtprio limit)")
    with rig(tiny_onnx, tmp_path) as (runner, arm, cams, _):
        seen: list[int] = []
        original = arm.write_goals

        def write_goals(goals):
            seen.append(os.sched_getscheduler(0))
            return original(goals)

        arm.write_goals = write_goals  # type: ignore[method-assign]
        lines: list[str] = []

        def body():
            run_loop(
                runner, arm, cams, config(runner.spec, max_ticks=5, rt_priority=7), lines.append
            )
            return os.sched_getscheduler(0)

        after = in_thread(body)
    assert seen and set(seen) == {os.SCHED_FIFO}
    assert after != os.SCHED_FIFO
    assert any("SCHED_FIFO 7" in line for line in lines)
