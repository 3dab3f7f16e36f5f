"""The fixed-rate camera-to-servo loop.

Each tick, on a perf_counter deadline grid at the spec's fps:
  camera     newest frames copied straight into the runner's input buffers (when the policy
             is queried this tick)
  state      sync-read of the joints
  copy       the state into the runner's state input (and BGR->RGB where the spec asks for RGB)
  inference  the policy (sync), or handing the observation to the worker (async)
  output     the executor's action for this tick, clamped to the training range
  write      sync-write of the goals (skipped with dry_run)
  slack      time left until the next deadline
A tick that ends after the next deadline is an overrun: counted, reported, and the grid skips
the slots that passed (missed_slots) instead of bursting to catch up or silently stretching.
Whatever ends the loop (duration, Ctrl-C, an exception, a camera or bus failure), torque is
disabled and the log is flushed before this returns or raises.
"""

from __future__ import annotations

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
from act_tool.runtime.runners.base import STATE, Runner
from act_tool.runtime.scheduling import AsyncScheduler, SyncScheduler
from act_tool.runtime.telemetry import COL, RunSummary, Telemetry


class Arm(Protocol):
    units: Any
    joint_names: Sequence[str]

    def read_positions(self, out: np.ndarray) -> np.ndarray: ...
    def write_goals(self, goals: np.ndarray) -> np.ndarray: ...
    def disable_torque(self) -> None: ...


class Cameras(Protocol):
    cameras: Mapping[str, Any]  # name -> camera with .config.shape

    def read_into(self, out: Mapping[str, np.ndarray]) -> Mapping[str, float]: ...


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
    state_margin: float = preflight.DEFAULT_MARGIN
    clamp_to_training_range: bool = True  # goals limited to the (widened) training range
    log_path: Path | None = None
    ring_capacity: int = 1 << 16
    warmup: int = 3
    spin_s: float = 0.0005  # busy-wait the last part of each sleep for an accurate deadline
    # While the loop runs, other Python threads (cameras, the async worker, the log writer) give
    # the GIL back after this long instead of the default 5 ms, so a tick waking up waits less.
    switch_interval_s: float = 0.0005

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
        if self.state_margin < 0:
            raise ActToolError("state margin must be >= 0")


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
    preflight.check_cameras(spec, {n: tuple(c.config.shape) for n, c in cameras.cameras.items()})
    preflight.check_units(spec, arm.units)
    state = np.zeros(len(arm.joint_names), dtype=np.float32)
    arm.read_positions(state)
    warnings = preflight.check_state(
        spec, state, arm.joint_names, config.state_margin, config.force
    )
    for w in warnings:
        log(f"warning (--force): outside the training range: {w}")

    # Frames go straight into the runner's inputs; RGB policies get a BGR staging buffer.
    frames: dict[str, np.ndarray] = {}
    rgb: list[tuple[np.ndarray, np.ndarray]] = []
    for cam in spec.cameras:
        dst = runner.inputs[cam.key]
        if cam.channel_order == "bgr":
            frames[cam.name] = dst
        else:
            staging = np.zeros_like(dst)
            frames[cam.name] = staging
            rgb.append((staging, dst))
    state_in = runner.inputs[STATE][0]
    action = np.zeros(len(spec.action_names), dtype=np.float32)
    lo, hi = (b.astype(np.float32) for b in preflight.state_bounds(spec, config.state_margin))
    # The training range bounds the goals only where action i is the goal of joint i.
    clamp = config.clamp_to_training_range and spec.action_names == spec.state_names
    if config.clamp_to_training_range and not clamp:
        log("note: action names differ from state names; goals are not clamped to the range")

    def observe() -> None:
        np.copyto(state_in, state)
        for src, dst in rgb:
            np.copyto(dst, src[..., ::-1])

    # Warm-up on a real observation: first-run costs, and the latency async mode plans with.
    cameras.read_into(frames)
    observe()
    latency = 0.0
    for _ in range(max(1, config.warmup)):
        t = time.perf_counter()
        runner.infer()
        latency = time.perf_counter() - t
    period = 1.0 / config.fps
    if config.asynchronous:
        lead = config.lead_ticks if config.lead_ticks is not None else math.ceil(latency / period)
        scheduler: SyncScheduler | AsyncScheduler = AsyncScheduler(
            runner, config.n_action_steps, lead
        )
    else:
        executor = make_executor(
            spec.chunk_size,
            len(spec.action_names),
            config.n_action_steps,
            config.temporal_ensemble_coeff,
        )
        scheduler = SyncScheduler(runner, executor)
    log(
        f"running {runner.description} at {config.fps:g} Hz "
        f"({'dry run, no writes' if config.dry_run else 'moving the arm'}); "
        f"warm-up inference {latency * 1e3:.1f} ms. Ctrl-C stops."
    )

    telemetry = Telemetry(config.ring_capacity, config.log_path).start()
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, config.switch_interval_s))
    perf = time.perf_counter
    sleep = time.sleep
    spin = config.spin_s
    c_tick, c_t, c_overrun, c_inferred, c_period = (
        COL["tick"],
        COL["t"],
        COL["overrun"],
        COL["inferred"],
        COL["period"],
    )
    c_stages = [COL[s] for s in ("camera", "state", "copy", "inference", "output", "write")]
    c_slack = COL["slack"]
    tick = slot = overruns = missed = 0
    stop_reason = ""
    failure: BaseException | None = None
    t0 = perf()
    deadline = t0
    previous = t0
    end = t0 + config.duration_s if config.duration_s is not None else math.inf
    max_ticks = config.max_ticks if config.max_ticks is not None else -1
    try:
        while tick != max_ticks and perf() < end:
            row = telemetry.row()
            a = perf()
            query = scheduler.wants_observation(slot)
            if query:
                cameras.read_into(frames)
            b = perf()
            arm.read_positions(state)
            c = perf()
            if query:
                observe()
            d = perf()
            if query:
                scheduler.submit(slot)
            e = perf()
            scheduler.next_action(slot, action)
            if clamp:
                np.clip(action, lo, hi, out=action)
            f = perf()
            if not config.dry_run:
                arm.write_goals(action)
            g = perf()
            row[c_tick] = tick
            row[c_t] = a - t0
            row[c_period] = a - previous
            row[c_inferred] = query
            row[c_stages[0]] = b - a
            row[c_stages[1]] = c - b
            row[c_stages[2]] = d - c
            row[c_stages[3]] = e - d
            row[c_stages[4]] = f - e
            row[c_stages[5]] = g - f
            previous = a
            deadline += period
            slot += 1
            if g > deadline:
                overruns += 1
                row[c_overrun] = 1.0
                while deadline < g:  # skip the slots that passed; never burst to catch up
                    deadline += period
                    slot += 1
                    missed += 1
            row[c_slack] = deadline - g
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
        stop_reason = f"error: {e}"
    finally:
        elapsed = perf() - t0
        sys.setswitchinterval(switch_interval)
        torque_note = _torque_off(arm)
        scheduler.close()
        telemetry.close()
        summary = telemetry.summary(
            elapsed,
            config.fps,
            overruns,
            scheduler.inferences,
            missed,
            stop_reason,
            scheduler.skipped,
            scheduler.starved,
        )
    if failure is not None:
        if not isinstance(failure, Exception):  # SystemExit from SIGTERM: cleaned up, go on
            raise failure
        where = f"stopped at tick {tick} ({elapsed:.2f} s)"
        raise LoopError(f"{where}: {failure}. {torque_note}", summary) from failure
    return summary


def _torque_off(arm: Arm) -> str:
    try:
        arm.disable_torque()
        return "Torque is off."
    except Exception as e:  # the bus may be the thing that failed
        return f"Could not confirm torque off ({e}): check the arm before touching it."
