"""Executors and schedulers on their own: LeRobot's queue semantics, asynchronous chunks."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from act_tool.runtime.executor import make_executor
from act_tool.runtime.runners.base import ACTION, STATE, TensorSpec
from act_tool.runtime.scheduling import AsyncScheduler, SyncScheduler

CHUNK = 20


class StampRunner:
    """A runner whose chunk encodes its observation: action[k] = 1000 * state[0] + k."""

    def __init__(self, delay_s: float = 0.0, fail_on: int | None = None) -> None:
        self.output_specs = (TensorSpec(ACTION, (1, CHUNK, 2), "float32"),)
        self.inputs = {STATE: np.zeros((1, 2), np.float32)}
        self.outputs = {ACTION: np.zeros((1, CHUNK, 2), np.float32)}
        self.delay_s, self.fail_on, self.calls = delay_s, fail_on, 0
        self.threads: set[str] = set()

    def infer(self):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.fail_on is not None and self.calls >= self.fail_on:
            raise RuntimeError("boom")
        time.sleep(self.delay_s)
        self.outputs[ACTION][0, :, 0] = 1000 * self.inputs[STATE][0, 0] + np.arange(CHUNK)
        return self.outputs


def drive(
    scheduler, runner, ticks: int, tick_s: float = 0.0, startups: list[float] | None = None
) -> list[tuple[int, int]]:
    """(observation tick, index) of the action executed at each tick, as the loop calls it."""
    out = np.zeros(2, np.float32)
    seen = []
    for tick in range(ticks):
        if scheduler.wants_observation(tick):
            runner.inputs[STATE][0, 0] = tick
            startup = scheduler.submit(tick)
            if startups is not None:
                startups.append(startup)
        scheduler.collect(tick)
        scheduler.next_action(tick, out)
        seen.append(divmod(int(out[0]), 1000))
        time.sleep(tick_s)
    return seen


@pytest.mark.parametrize("n_steps", [1, 5, CHUNK])
def test_sync_chunks_query_when_the_queue_is_empty(n_steps):
    runner = StampRunner()
    scheduler = SyncScheduler(runner, make_executor(CHUNK, 2, n_steps, None))
    seen = drive(scheduler, runner, 3 * CHUNK)
    assert seen == [((t // n_steps) * n_steps, t % n_steps) for t in range(3 * CHUNK)]
    assert scheduler.inferences == 3 * CHUNK // n_steps


def test_async_actions_always_belong_to_their_time():
    runner = StampRunner(delay_s=0.004)
    scheduler = AsyncScheduler(runner, n_action_steps=8, lead_ticks=1)
    try:
        seen = drive(scheduler, runner, 80, tick_s=0.002)
    finally:
        scheduler.close()
    # Whatever the timing, the action at tick t from the chunk observed at t_obs is index t - t_obs.
    for tick, (t_obs, index) in enumerate(seen):
        assert t_obs <= tick
        assert index == min(tick - t_obs, CHUNK - 1)
    observed = sorted({t for t, _ in seen})
    assert observed[0] == 0 and len(observed) >= 5
    assert "inference" in runner.threads, "inference runs on the worker thread"
    assert scheduler.skipped > 0, "switching to a late chunk skips the actions whose time passed"


def test_async_first_chunk_wait_is_reported_as_startup():
    """Only the first submit waits (nothing can move before a chunk exists); it says how long,
    so the loop shifts its grid instead of counting an overrun. Sync queries report none."""
    runner = StampRunner(delay_s=0.05)
    scheduler = AsyncScheduler(runner, n_action_steps=4, lead_ticks=1)
    startups: list[float] = []
    try:
        seen = drive(scheduler, runner, 20, tick_s=0.002, startups=startups)
    finally:
        scheduler.close()
    assert len(startups) >= 2
    assert startups[0] >= 0.045 and startups[1:] == [0.0] * (len(startups) - 1)
    assert seen[0] == (0, 0), "the first chunk is ready when the first tick executes"
    sync = SyncScheduler(runner, make_executor(CHUNK, 2, 5, None))
    startups = []
    drive(sync, runner, 10, startups=startups)
    assert startups == [0.0, 0.0]


def test_sync_output_is_copied_out_of_the_runner_in_collect():
    """`submit` runs the policy, `collect` copies its chunk into the executor (the 'output'
    stage): a runner that reuses its output buffer cannot change queued actions."""
    runner = StampRunner()
    scheduler = SyncScheduler(runner, make_executor(CHUNK, 2, 5, None))
    out = np.zeros(2, np.float32)
    runner.inputs[STATE][0, 0] = 7
    scheduler.submit(0)
    scheduler.collect(0)
    runner.outputs[ACTION][...] = -1  # the runner's buffer is reused by the next call
    assert [tuple(scheduler.next_action(t, out)) for t in range(2)] == [(7000, 0), (7001, 0)]
    scheduler.collect(1)  # nothing new submitted: the queue is untouched
    assert tuple(scheduler.next_action(2, out)) == (7002, 0)


def test_async_holds_the_last_action_when_starved():
    runner = StampRunner(delay_s=0.08)
    scheduler = AsyncScheduler(runner, n_action_steps=CHUNK, lead_ticks=0)
    try:
        seen = drive(scheduler, runner, 30, tick_s=0.002)
    finally:
        scheduler.close()
    assert scheduler.starved > 0
    assert (0, CHUNK - 1) in seen


def test_async_worker_error_reaches_the_loop():
    runner = StampRunner(fail_on=2)
    scheduler = AsyncScheduler(runner, n_action_steps=2, lead_ticks=0)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            drive(scheduler, runner, 50, tick_s=0.002)
    finally:
        scheduler.close()


@pytest.mark.parametrize(
    "steps, coeff, split",
    [(1, 0.01, False), (1, 0.01, True), (10, None, False)],
    ids=["ensemble", "ensemble-prepare-finish", "chunk"],
)
def test_executors_allocate_nothing(steps, coeff, split):
    """Nothing kept over 500 steps, and no temporary array data within a step: tracemalloc's
    peak since reset_peak allows numpy's view objects (about 700 bytes a step), not a scratch
    array the size of a chunk (2.4 KB in float32) or a ufunc's iterator buffer (about 6 KB)."""
    import tracemalloc

    ex = make_executor(100, 6, steps, coeff)
    chunk = np.random.default_rng(0).standard_normal((100, 6)).astype(np.float32)
    out = np.zeros(6, np.float32)

    def step() -> None:
        if split:
            ex.prepare()
            ex.finish(chunk, out)
            return
        if ex.needs_inference():
            ex.push(chunk)
        ex.pop(out)

    for _ in range(150):
        step()
    worst = 0
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(500):
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            step()
            worst = max(worst, tracemalloc.get_traced_memory()[1] - start)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 256
    assert worst < 1200, f"{worst} bytes allocated within one step"
