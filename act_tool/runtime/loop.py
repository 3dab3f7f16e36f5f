"""The fixed-rate camera-to-servo loop.

Each tick, on a perf_counter deadline grid at the spec's fps (the stages in the order they run):
  state      the sync-read of the joints is sent first; its answers take the wire time (0.6 ms
             at 1 Mbps, plus the USB adapter's latency), and the camera stage, and on ticks
             that do not query the policy the output and executor stages, run meanwhile. The
             stage is the request plus the wait for the answers and their decoding.
  camera     when the policy is queried this tick, the newest frames reach the runner: each
             camera's newest buffer bound to the runner's input without a copy where the runner
             reads the caller's memory (ONNX Runtime, PyTorch on the CPU) and the policy takes
             BGR, else copied into the runner's input buffers; on other ticks every camera's
             health (dead thread, frame age) is checked without copying, so a dead camera stops
             the arm within one tick
  copy       BGR->RGB where the spec asks for RGB (a query tick reads the state straight into
             the runner's state input)
  inference  the policy (sync), or handing the observation to the worker (async)
  output     the chunk copied out of the runner into the executor (async: a buffer swap)
  executor   the executor's action for this tick, clamped to the action's training range
             (widened by the margin; the arm then clamps to its calibrated range); on a query
             tick after inference (temporal ensembling blends the older chunks while the
             joints' answers are on the wire, and adds the new chunk after inference),
             otherwise all of it while the answers are on the wire
  write      sync-write of the goals (skipped with dry_run)
  slack      time left until the next deadline
The control thread ticks at real-time priority (SCHED_FIFO) where the system permits it, so camera,
log and inference threads cannot delay its wake-up (realtime.py); otherwise at normal priority.
A tick that ends after the next deadline is an overrun: counted, reported, and the grid skips
the slots that passed (missed_slots) instead of bursting to catch up or silently stretching.
The one exception is async mode's wait for its first chunk (startup, nothing can move before it
exists): the grid is shifted by that wait rather than counting it as an overrun.
Whatever ends the loop (duration, Ctrl-C, SIGTERM, an exception in warm-up or in a tick, a camera
or bus failure), torque is disabled and the log is flushed before this returns or raises.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from act_tool.errors import ActToolError
from act_tool.runtime import preflight
from act_tool.runtime.executor import make_executor
from act_tool.runtime.realtime import DEFAULT_PRIORITY, raise_priority
from act_tool.runtime.runners.base import STATE, Runner, RunnerError
from act_tool.runtime.scheduling import AsyncScheduler, SyncScheduler
from act_tool.runtime.telemetry import COL, STAGES, RunSummary, Telemetry


class Arm(Protocol):
    units: Any
    joint_names: Sequence[str]

    def read_positions(self, out: np.ndarray) -> np.ndarray: ...
    def start_read(self) -> None: ...  # send the position request; answers on the wire
    def finish_read(self, out: np.ndarray) -> np.ndarray: ...  # collect them into `out`
    def write_goals(self, goals: np.ndarray) -> np.ndarray: ...
    def disable_torque(self) -> None: ...


class Cameras(Protocol):
    cameras: Mapping[str, Any]  # name -> camera

    def latest(self) -> Mapping[str, tuple[np.ndarray, float]]: ...  # (frame, age), a copy
    def read_into(self, out: Mapping[str, np.ndarray]) -> Mapping[str, float]: ...
    # (1,H,W,3) newest frame and its age, no copy; the camera leaves it alone until the next call
    def acquire(self, name: str) -> tuple[np.ndarray, float]: ...
    def buffers(self, name: str) -> Sequence[np.ndarray]: ...  # every array acquire may return
    def check(self) -> None: ...  # raise if a camera died or its newest frame is too old


class LoopError(ActToolError):
    """The loop stopped on an error; torque is off and the log is flushed. `.summary` holds the
    run up to that point."""

    def __init__(self, message: str, summary: RunSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class LoopConfig:
    fps: float
    n_action_steps: int
    temporal_ensemble_coeff: float | None = None
    asynchronous: bool = False  # compute the next chunk in a background thread
    lead_ticks: int | None = None  # async: launch this many ticks early (None: measured)
    duration_s: float | None = None  # None: until Ctrl-C (or max_ticks)
    max_ticks: int | None = None
    dry_run: bool = False  # everything but the servo writes
    force: bool = False  # start even when the state lies outside the training range
    range_margin: float = preflight.DEFAULT_MARGIN  # widens the state and action ranges
    clamp_to_training_range: bool = True  # goals limited to the action's (widened) range
    log_path: Path | None = None
    ring_capacity: int = 1 << 16
    warmup: int = 3
    spin_s: float = 0.0005  # busy-wait the last part of each sleep for an accurate deadline
    # While the loop runs, other Python threads (cameras, the async worker, the log writer) give
    # the GIL back after this long instead of the default 5 ms, so a tick waking up waits less.
    switch_interval_s: float = 0.0005
    # SCHED_FIFO priority of the control thread while it ticks (0: normal priority); refused
    # quietly (with a note) where the user may not use real-time scheduling. See realtime.py.
    rt_priority: int = DEFAULT_PRIORITY

    def __post_init__(self) -> None:
        if not 0 < self.fps <= 1000:
            raise ActToolError(f"fps must be in (0, 1000], got {self.fps}")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ActToolError(f"duration must be positive, got {self.duration_s}")
        if self.asynchronous and self.temporal_ensemble_coeff is not None:
            raise ActToolError(
                "asynchronous inference works on chunks; temporal ensembling queries every tick. "
                "Use one or the other."
            )
        if self.range_margin < 0:
            raise ActToolError("range margin must be >= 0")
        if not 0 <= self.rt_priority <= 99:
            raise ActToolError(f"real-time priority must be in 0..99, got {self.rt_priority}")


def run_loop(
    runner: Runner,
    arm: Arm,
    cameras: Cameras,
    config: LoopConfig,
    log: Callable[[str], None] = print,
) -> RunSummary:
    """Check the robot against the spec, then run the loop until the duration or Ctrl-C.

    `runner` is entered, `arm` connected, `cameras` started. Returns the run's summary; raises
    PreflightError before any motion, or LoopError after stopping on a failure.
    """
    spec = runner.spec
    # The frames the cameras actually deliver, not the sizes that were asked of them.
    preflight.check_cameras(spec, {n: frame for n, (frame, _) in cameras.latest().items()})
    preflight.check_units(spec, arm.units)
    state = np.zeros(len(arm.joint_names), dtype=np.float32)
    arm.read_positions(state)
    warnings = preflight.check_state(
        spec, state, arm.joint_names, config.range_margin, config.force
    )
    for w in warnings:
        log(f"warning (--force): outside the training range: {w}")

    # Frames reach the runner without a copy where it reads the caller's memory and the policy
    # takes BGR (as cameras deliver): each camera's newest buffer is bound to its input. Else
    # they are copied straight into the runner's inputs; RGB policies get a BGR staging buffer.
    bound = runner.binds_without_copy and all(c.channel_order == "bgr" for c in spec.cameras)
    to_bind = tuple((cam.name, cam.key) for cam in spec.cameras) if bound else ()
    if bound:  # whatever the runner sets up per buffer (combination), it does now
        runner.prepare_inputs({key: cameras.buffers(name) for name, key in to_bind})
    own_frames = {key: runner.inputs[key] for _, key in to_bind}  # rebound when the run ends
    frames: dict[str, np.ndarray] = {}
    rgb: list[tuple[np.ndarray, np.ndarray]] = []
    for cam in () if bound else spec.cameras:
        dst = runner.inputs[cam.key]
        if cam.channel_order == "bgr":
            frames[cam.name] = dst
        else:
            staging = np.zeros_like(dst)
            frames[cam.name] = staging
            rgb.append((staging, dst))
    state_in = runner.inputs[STATE][0]
    action = np.zeros(len(spec.action_names), dtype=np.float32)
    bounds = preflight.action_bounds(spec, config.range_margin)
    clamp = config.clamp_to_training_range and bounds is not None
    lo, hi = (b.astype(np.float32).tolist() for b in bounds) if bounds else ([], [])
    n_actions = len(action)

    def limit() -> None:
        """The action clamped to the widened training range, on plain numbers (one numpy call
        costs as much at a tick's start); NaN passes, and the arm refuses it."""
        for j in range(n_actions):
            v = action[j]
            if v < lo[j]:
                action[j] = lo[j]
            elif v > hi[j]:
                action[j] = hi[j]

    if config.clamp_to_training_range and bounds is None:
        log(
            "note: this spec has no action range (exported by an older act-tool): goals are "
            "limited by the arm's calibrated range only. Export again to clamp them to the "
            "training range."
        )
    elif not config.clamp_to_training_range:
        log("note: --no-range-clamp: goals are limited by the arm's calibrated range only")

    def read_frames() -> None:
        """A query tick's frames into the runner. Bound: the runner reads the acquired buffer,
        which its camera leaves alone until this camera's next acquire. In async mode the
        worker reads it while the loop ticks on; that is safe because the loop acquires only on
        ticks where the scheduler wants an observation, and the worker is idle then."""
        if bound:
            for name, key in to_bind:
                runner.bind_input(key, cameras.acquire(name)[0])
        else:
            cameras.read_into(frames)

    def flip_frames() -> None:  # RGB policies: the staged BGR frames, flipped into the runner
        for src, dst in rgb:
            np.copyto(dst, src[..., ::-1])

    def observe() -> None:  # warm-up: the state read before the loop
        np.copyto(state_in, state)
        flip_frames()

    telemetry = Telemetry(config.ring_capacity, config.log_path).start()
    period = 1.0 / config.fps
    perf = time.perf_counter
    cpu_time = time.thread_time  # the control thread's CPU time: no waiting, no other process
    sleep = time.sleep
    spin = config.spin_s
    c_tick, c_t, c_overrun, c_inferred, c_period, c_cpu = (
        COL["tick"],
        COL["t"],
        COL["overrun"],
        COL["inferred"],
        COL["period"],
        COL["cpu"],
    )
    c_camera, c_state, c_copy, c_inference, c_output, c_executor, c_write, c_slack = (
        COL[s] for s in STAGES
    )
    scheduler: SyncScheduler | AsyncScheduler | None = None
    restore_priority: Callable[[], None] | None = None
    tick = slot = overruns = missed = 0
    stop_reason = ""
    where = "during warm-up, before the first tick"
    failure: BaseException | None = None
    switch_interval = sys.getswitchinterval()
    t0 = perf()
    try:
        scheduler, latency = _warm_up(runner, read_frames, observe, config, period)
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
        t0 = perf()
        deadline = t0
        previous = t0
        end = t0 + config.duration_s if config.duration_s is not None else math.inf
        max_ticks = config.max_ticks if config.max_ticks is not None else -1
        while tick != max_ticks and perf() < end:
            row = telemetry.row()
            a = perf()
            cpu_a = cpu_time()
            arm.start_read()  # the joints' answers are on the wire during the next stages
            a1 = perf()
            query = scheduler.wants_observation(slot)
            if query:
                read_frames()
            else:
                cameras.check()
            b = perf()
            if not query:  # this tick's action does not depend on its observation: pick it now
                scheduler.collect(slot)
                e = perf()
                scheduler.next_action(slot, action)
                if clamp:
                    limit()
                f = perf()
                arm.finish_read(state)
                g = perf()
                row[c_state] = (a1 - a) + (g - f)
                row[c_copy] = 0.0
                row[c_inference] = 0.0
                row[c_output] = e - b
                row[c_executor] = f - e
                startup = inference_cpu = 0.0
            else:
                scheduler.prepare(slot)  # the part of the action the new chunk does not change
                b2 = perf()
                arm.finish_read(state_in)  # straight into the runner's state input
                c = perf()
                if rgb:
                    flip_frames()
                d = perf()
                cpu_d = cpu_time()
                startup = scheduler.submit(slot)
                inference_cpu = cpu_time() - cpu_d  # the policy's, not the loop's
                e = perf()
                scheduler.collect(slot)
                f = perf()
                scheduler.next_action(slot, action)
                if clamp:
                    limit()
                g = perf()
                row[c_state] = (a1 - a) + (c - b2)
                row[c_copy] = d - c
                row[c_inference] = e - d
                row[c_output] = f - e
                row[c_executor] = (g - f) + (b2 - b)
            if not config.dry_run:
                arm.write_goals(action)
            h = perf()
            row[c_cpu] = cpu_time() - cpu_a - inference_cpu
            row[c_tick] = tick
            row[c_t] = a - t0
            row[c_period] = a - previous
            row[c_inferred] = query
            row[c_camera] = b - a1
            row[c_write] = h - g
            previous = a
            deadline += period + startup  # async's first-chunk wait shifts the grid
            slot += 1
            if h > deadline:
                overruns += 1
                row[c_overrun] = 1.0
                while deadline < h:  # skip the slots that passed; never burst to catch up
                    deadline += period
                    slot += 1
                    missed += 1
            row[c_slack] = deadline - h
            telemetry.commit()
            tick += 1
            remaining = deadline - perf()
            if remaining > spin:
                sleep(remaining - spin)
            while perf() < deadline:
                pass
        stop_reason = "duration reached" if tick != max_ticks else "tick limit reached"
    except KeyboardInterrupt:
        stop_reason = "interrupted (Ctrl-C)"
    except BaseException as e:
        failure = e
        stop_reason = f"error{' ' + where if where else ''}: {e}"
    finally:
        elapsed = perf() - t0
        sys.setswitchinterval(switch_interval)
        torque_note = _torque_off(arm)
        if scheduler is not None:
            scheduler.close()
        telemetry.close()
        if restore_priority is not None:
            try:
                restore_priority()
            except OSError as e:
                log(f"note: could not restore the thread's normal priority ({e})")
        # The runner reads its own buffers again, not the cameras' (they stop after the run).
        with contextlib.suppress(RunnerError):  # a runner closed meanwhile reads nothing
            for key, buf in own_frames.items():
                runner.bind_input(key, buf)
        summary = telemetry.summary(
            elapsed,
            config.fps,
            overruns,
            scheduler.inferences if scheduler is not None else 0,
            missed,
            stop_reason,
            scheduler.skipped if scheduler is not None else 0,
            scheduler.starved if scheduler is not None else 0,
        )
    if failure is not None:
        if not isinstance(failure, Exception):  # SystemExit from SIGTERM: cleaned up, go on
            raise failure
        where = where or f"at tick {tick} ({elapsed:.2f} s)"
        raise LoopError(f"stopped {where}: {failure}. {torque_note}", summary) from failure
    return summary


def _warm_up(
    runner: Runner,
    read_frames: Callable[[], None],
    observe: Callable[[], None],
    config: LoopConfig,
    period: float,
) -> tuple[SyncScheduler | AsyncScheduler, float]:
    """Inference on a real observation (first-run costs, and the latency async mode plans
    with), then the scheduler for the configured mode. Returns (scheduler, latency in s)."""
    read_frames()
    observe()
    latency = 0.0
    for _ in range(max(1, config.warmup)):
        t = time.perf_counter()
        runner.infer()
        latency = time.perf_counter() - t
    spec = runner.spec
    if config.asynchronous:
        lead = config.lead_ticks if config.lead_ticks is not None else math.ceil(latency / period)
        return AsyncScheduler(runner, config.n_action_steps, lead), latency
    executor = make_executor(
        spec.chunk_size,
        len(spec.action_names),
        config.n_action_steps,
        config.temporal_ensemble_coeff,
    )
    return SyncScheduler(runner, executor), latency


def _torque_off(arm: Arm) -> str:
    try:
        arm.disable_torque()
        return "Torque is off."
    except Exception as e:  # the bus may be the thing that failed
        return f"Could not confirm torque off ({e}): check the arm before touching it."
