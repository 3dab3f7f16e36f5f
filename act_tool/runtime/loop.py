"""The fixed-rate camera-to-servo loop.

Each tick, on a deadline grid at the configured fps, runs the stages of its plan
(act_tool.runtime.telemetry states the stages and their order): the joints' sync-read is sent
first, and the work that does not need its answers overlaps their wire time; on a query tick the
newest frames reach the runner (act_tool.runtime.frame_feed), then the answers go straight into
the runner's state input, the policy runs (or the async worker is handed the observation), and
the executor picks the action; on other ticks the cameras' health is checked and the action is
picked before the answers are collected. The action is clamped to the action's training range
(widened by the margin; the arm then clamps to its calibrated range) and written.

The control thread ticks at real-time priority (SCHED_FIFO) where the system permits it, so
camera, log and inference threads cannot delay its wake-up (realtime.py). A tick that ends after
the next deadline is an overrun: counted, reported, and the grid skips the slots that passed
(missed slots) instead of bursting to catch up or silently stretching. The one exception is async
mode's wait for its first chunk (startup, nothing can move before it exists): the grid is shifted
by that wait rather than counting it as an overrun. The grid lives on a Clock: the wall clock by
default, or a simulation's (its time advances by a period while the loop waits, whatever the
tick took, and it may end the run). Whatever ends the loop (duration, Ctrl-C, SIGTERM, the
clock, an exception in warm-up or in a tick, a camera or bus failure), torque is disabled and
the log is flushed before this returns or raises (or, with `--on-stop park`, the arm first
moves back to where it started where the end was not a fault of the bus: park.py).

A tick whose joint state does not come (its answers lost or corrupted after the retries that fit
the tick) holds: nothing is computed from a stale state, no goal is written, the servos keep
their last goal; the run stops when the state has been missing longer than its budget
(missed_state.py), naming the servos.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from act_tool.errors import ActToolError
from act_tool.hw.errors import HardwareError, ReplyMissingError
from act_tool.hw.so101.joints import JOINT_NAMES, SERVO_IDS
from act_tool.runtime.frame_feed import FrameFeed
from act_tool.runtime.interfaces import Arm, Cameras, Clock
from act_tool.runtime.loop_config import LoopConfig, LoopError, RealClock
from act_tool.runtime.loop_setup import Scheduler, action_limit, preflight_state, warm_up
from act_tool.runtime.missed_state import StateLostError, StateWatch
from act_tool.runtime.observers import TickObserver, TickView
from act_tool.runtime.park import OnStop, park
from act_tool.runtime.realtime import raise_priority
from act_tool.runtime.runners.base import STATE, Runner
from act_tool.runtime.telemetry import MARK0, RAW_COL, RunSummary, Telemetry

M0, M1, M2, M3, M4, M5, M6, M7, M8, M9 = range(MARK0, MARK0 + 10)
C_TICK, C_OVERRUN, C_INFERRED, C_CPU, C_SLACK, C_HELD, C_FAULTS = (
    RAW_COL[n] for n in ("tick", "overrun", "inferred", "cpu", "slack", "held", "faults")
)

__all__ = ["LoopConfig", "LoopError", "RealClock", "run_loop"]


@dataclass
class _Counters:
    ticks: int = 0
    overruns: int = 0
    missed: int = 0
    stop_reason: str = ""


def run_loop(
    runner: Runner,
    arm: Arm,
    cameras: Cameras,
    config: LoopConfig,
    log: Callable[[str], None] = print,
    telemetry: Telemetry | None = None,
    clock: Clock | None = None,
    observers: Sequence[TickObserver] = (),
) -> RunSummary:
    """Check the robot against the spec, then run the loop until the duration or Ctrl-C.

    `runner` is entered, `arm` connected, `cameras` started; `config` is resolved against the
    runner's spec. Returns the run's summary; raises PreflightError before any motion, or
    LoopError after stopping on a failure. `telemetry`: where the ticks are recorded (a new
    ring by default). `clock`: where the deadlines live (the wall clock by default).
    `observers`: shown every tick after the goals are written (act_tool.runtime.observers);
    their `end` is called after torque off, however the run ended.
    """
    clock = clock or RealClock(config.spin_s)
    config = config.resolve(runner.spec)
    state = preflight_state(runner, arm, cameras, config, log)
    start_pose = state.copy()  # where --on-stop park returns
    feed = FrameFeed(runner, cameras)
    limit = action_limit(runner, config, log)
    telemetry = (telemetry or Telemetry(config.ring_capacity, config.log_path)).start()
    counters = _Counters()
    names = tuple(arm.joint_names)
    watch = StateWatch(
        config.max_missed_state.ticks_at(config.fps or 30.0),
        config.fps or 30.0,
        dict(zip(SERVO_IDS, names, strict=False)) if names == JOINT_NAMES else {},
    )
    scheduler: Scheduler | None = None
    restore_priority: Callable[[], None] | None = None
    where = "during warm-up, before the first tick"
    failure: BaseException | None = None
    switch_interval = sys.getswitchinterval()
    t0 = clock.now()
    begun: list[TickObserver] = []
    try:
        for observer in observers:
            observer.begin(runner.spec, config.fps or 0.0, cameras)
            begun.append(observer)
        feed.observe(state)
        scheduler, latency = warm_up(runner, config)
        log(
            f"running {runner.description} at {config.fps:g} Hz "
            f"({'dry run, no writes' if config.dry_run else 'moving the arm'}); "
            f"warm-up inference {latency * 1e3:.1f} ms. Ctrl-C stops."
        )
        sys.setswitchinterval(min(switch_interval, config.switch_interval_s))
        # Every thread of the run exists by now (cameras, log writer, async worker), so none
        # inherits the control thread's priority.
        restore_priority, priority_note = raise_priority(config.rt_priority)
        log(priority_note)
        where = ""
        t0 = clock.now()
        ticker = _Ticker(runner, arm, feed, scheduler, limit, config, tuple(observers), watch)
        ticker.run(telemetry, counters, clock)
    except KeyboardInterrupt:
        counters.stop_reason = "interrupted (Ctrl-C)"
    except BaseException as e:
        failure = e
        counters.stop_reason = f"error{' ' + where if where else ''}: {e}"
    finally:
        elapsed = clock.now() - t0
        sys.setswitchinterval(switch_interval)
        pose = start_pose if _parks(config, failure) else None
        torque_note = _shutdown(
            arm, scheduler, telemetry, feed, restore_priority, log, pose, config
        )
        ended = _end_observers(begun, counters.stop_reason, log)  # a failed run's too
        failure = failure or ended
        summary = telemetry.summary(
            elapsed,
            config.fps,
            counters.overruns,
            scheduler.inferences if scheduler is not None else 0,
            counters.missed,
            counters.stop_reason,
            scheduler.skipped if scheduler is not None else 0,
            scheduler.starved if scheduler is not None else 0,
            held_ticks=watch.held,
            faults=watch.report(),
        )
    if failure is not None:
        if not isinstance(failure, Exception):  # SystemExit from SIGTERM: cleaned up, go on
            raise failure
        where = where or f"at tick {counters.ticks} ({elapsed:.2f} s)"
        raise LoopError(f"stopped {where}: {failure}. {torque_note}", summary) from failure
    return summary


def _end_observers(
    observers: list[TickObserver], stop_reason: str, log: Callable[[str], None]
) -> Exception | None:
    """Tell the observers the run ended; returns the first failure among them, if any."""
    failure = None
    for observer in observers:
        try:
            observer.end(stop_reason)
        except Exception as e:
            log(f"warning: {type(observer).__name__} could not finish: {e}")
            failure = failure or e
    return failure


class _Ticker:
    """The ticks of one run. Each records its plan's marks (raw perf_counter times, in the order
    of telemetry.QUERY_TICK or PLAIN_TICK) and a few counters, nothing more."""

    def __init__(
        self,
        runner: Runner,
        arm: Arm,
        feed: FrameFeed,
        scheduler: Scheduler,
        limit: Callable[[np.ndarray], None] | None,
        config: LoopConfig,
        observers: tuple[TickObserver, ...] = (),
        watch: StateWatch | None = None,
    ) -> None:
        self.arm, self.feed, self.scheduler, self.limit = arm, feed, scheduler, limit
        fps = config.fps or 30.0
        self.watch = watch or StateWatch(config.max_missed_state.ticks_at(fps), fps, {})
        # missing answers so far (the arm's bus), for the log's per-tick count; 0 without one
        self.fault_count = getattr(arm, "fault_count", None)
        self.observers = observers
        self._chunks_seen = 0
        self.config = config
        self.state_in = runner.inputs[STATE][0]  # a query tick reads the joints straight in
        # other ticks read them here: the async worker may be reading the runner's inputs
        self.present = np.zeros(len(arm.joint_names), dtype=np.float32)
        self.action = np.zeros(len(runner.spec.action_names), dtype=np.float32)
        self.cpu = time.thread_time  # the control thread's CPU time: no waiting, no other process
        self.view = TickView(0, False, self.present, self.action, None, None, np.zeros(0),
                             feed.cameras, 0, feed.current_generation)  # fmt: skip

    def notify(self, row: np.ndarray, tick: int, query: bool, goal: np.ndarray) -> None:
        """Show the tick to the observers (references; see act_tool.runtime.observers)."""
        view, scheduler = self.view, self.scheduler
        view.tick, view.query, view.goal, view.marks = tick, query, goal, row
        view.state = self.state_in if query else self.present
        view.frames = self.feed.seen if query else None
        view.generation = self.feed.generation
        view.chunk = None
        if scheduler.chunks != self._chunks_seen:
            self._chunks_seen = scheduler.chunks
            view.chunk = scheduler.last_chunk
        for observer in self.observers:
            observer.on_tick(view)

    def query(self, row: np.ndarray, slot: int) -> tuple[int, float, float]:
        """A tick whose observation goes to the policy. Returns (last mark, the inference call's
        CPU time, the async startup wait); last mark -1: the state did not come, the tick
        holds (no inference, no action)."""
        perf, scheduler = time.perf_counter, self.scheduler
        self.feed.read()
        row[M2] = perf()
        scheduler.prepare(slot)  # the part of the action the new chunk does not change
        row[M3] = perf()
        try:
            self.arm.finish_read(self.state_in)  # left as it was when the answers are missing
        except ReplyMissingError as e:
            self.watch.missed(e)
            row[M4:M9] = perf()
            return -1, 0.0, 0.0
        self.watch.ok()
        row[M4] = perf()
        if self.feed.staged:
            self.feed.flip()
        row[M5] = perf()
        cpu = self.cpu()
        startup = scheduler.submit(slot)
        inference_cpu = self.cpu() - cpu  # the policy's, not the loop's
        row[M6] = perf()
        scheduler.collect(slot)
        row[M7] = perf()
        scheduler.next_action(slot, self.action)
        if self.limit is not None:
            self.limit(self.action)
        row[M8] = perf()
        return M9, inference_cpu, startup

    def plain(self, row: np.ndarray, slot: int) -> int:
        """A tick whose action does not depend on its observation: picked while the joints'
        answers are on the wire. Returns the last mark (-1: the state did not come, the tick
        holds and its action is not written: its time passes as an overrun's missed slot's)."""
        perf, scheduler = time.perf_counter, self.scheduler
        self.feed.cameras.check()
        row[M2] = perf()
        scheduler.collect(slot)
        row[M3] = perf()
        scheduler.next_action(slot, self.action)
        if self.limit is not None:
            self.limit(self.action)
        row[M4] = perf()
        try:
            self.arm.finish_read(self.present)
        except ReplyMissingError as e:
            self.watch.missed(e)
            row[M5] = perf()
            return -1
        self.watch.ok()
        row[M5] = perf()
        return M6

    def run(self, telemetry: Telemetry, counters: _Counters, clock: Clock) -> None:
        """Tick until the duration, the tick limit or the clock's end."""
        perf, now, wait_until, cpu_time = time.perf_counter, clock.now, clock.wait_until, self.cpu
        arm, scheduler, action, config = self.arm, self.scheduler, self.action, self.config
        period, dry = 1.0 / config.fps, config.dry_run
        telemetry.t0 = perf()  # the marks are wall-clock times
        deadline = t0 = now()
        end = t0 + config.duration_s if config.duration_s is not None else math.inf
        max_ticks = config.max_ticks if config.max_ticks is not None else -1
        tick = slot = 0
        counters.stop_reason = "tick limit reached"
        while tick != max_ticks:
            if now() >= end:
                counters.stop_reason = "duration reached"
                break
            row = telemetry.row()
            row[M0] = perf()
            cpu_start = cpu_time()
            arm.start_read()  # the joints' answers are on the wire during the next stages
            row[M1] = perf()
            query = scheduler.wants_observation(slot)
            if query:
                last, inference_cpu, startup = self.query(row, slot)
            else:
                last, inference_cpu, startup = self.plain(row, slot), 0.0, 0.0
            held = last < 0
            if held:  # the servos keep their last goal; observers see no tick without a state
                last = M9 if query else M6
                row[C_HELD] = 1.0
            else:
                goal = action if dry else arm.write_goals(action)
            row[last] = perf()
            row[C_TICK] = tick
            row[C_INFERRED] = query and not held
            if self.fault_count is not None:
                row[C_FAULTS] = self.fault_count()
            if self.observers and not held:  # their time counts in the tick (cpu, slack, ...)
                self.notify(row, tick, query, goal)
            done = now()
            row[C_CPU] = cpu_time() - cpu_start - inference_cpu
            deadline += period + startup  # async's first-chunk wait shifts the grid
            slot += 1
            if done > deadline:
                counters.overruns += 1
                row[C_OVERRUN] = 1.0
                while deadline < done:  # skip the slots that passed; never burst to catch up
                    deadline += period
                    slot += 1
                    counters.missed += 1
            row[C_SLACK] = deadline - done
            telemetry.commit()
            tick += 1
            counters.ticks = tick
            if not wait_until(deadline):
                counters.stop_reason = clock.stop_reason
                break


def _parks(config: LoopConfig, failure: BaseException | None) -> bool:
    """Whether the arm parks before torque off: asked for, moving, and not a bus fault."""
    if config.on_stop is not OnStop.PARK or config.dry_run:
        return False
    return not isinstance(failure, HardwareError | StateLostError)


def _shutdown(
    arm: Arm,
    scheduler: Scheduler | None,
    telemetry: Telemetry,
    feed: FrameFeed,
    restore_priority: Callable[[], None] | None,
    log: Callable[[str], None],
    pose: np.ndarray | None = None,
    config: LoopConfig | None = None,
) -> str:
    """After the last tick, whatever ended it: park at `pose` when given (park.py), torque
    off, then the worker, the log, the thread's priority and the runner's inputs. Returns what
    to say about the torque."""
    interrupted: BaseException | None = None  # raised again once everything is released
    if pose is not None and config is not None:
        try:
            seconds = park(arm, pose, config.fps or 30.0)
            log(f"parked at the start pose in {seconds:.1f} s (--on-stop park)")
        except (KeyboardInterrupt, ActToolError) as e:
            log(f"parking stopped ({e or 'Ctrl-C'}): torque off where the arm is")
        except BaseException as e:  # SIGTERM (SystemExit), a bug: still torque off and release
            log(f"parking stopped ({type(e).__name__}: {e}): torque off where the arm is")
            interrupted = e
    try:
        unreached = arm.disable_torque()
        torque_note = "Torque is off."
        if unreached:
            torque_note = (
                f"Torque is off on every servo that answered; could not reach "
                f"{', '.join(unreached)} to turn its torque off: check it before touching the arm."
            )
    except Exception as e:  # the bus may be the thing that failed
        torque_note = f"Could not confirm torque off ({e}): check the arm before touching it."
    if scheduler is not None:
        scheduler.close()
    telemetry.close()
    if restore_priority is not None:
        try:
            restore_priority()
        except OSError as e:
            log(f"note: could not restore the thread's normal priority ({e})")
    feed.release()
    if interrupted is not None:
        raise interrupted
    return torque_note
