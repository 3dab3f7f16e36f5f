"""How the control loop runs: rate, execution mode, limits, logging. The command line builds a
LoopConfig from its options; values left None come from the policy's spec (`resolve`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from act_tool.errors import ActToolError
from act_tool.runtime import preflight
from act_tool.runtime.missed_state import DEFAULT_BUDGET, MissedStateBudget
from act_tool.runtime.park import OnStop
from act_tool.runtime.realtime import DEFAULT_PRIORITY
from act_tool.runtime.telemetry import RunSummary
from act_tool.spec import EngineSpec


class RealClock:
    """The wall clock (time.perf_counter): sleep most of the way to a deadline, then spin the
    last `spin_s` for an accurate wake-up."""

    stop_reason = ""
    now = staticmethod(time.perf_counter)

    def __init__(self, spin_s: float = 0.0005) -> None:
        self.spin_s = spin_s

    def wait_until(self, deadline: float) -> bool:
        perf = time.perf_counter
        remaining = deadline - perf()
        if remaining > self.spin_s:
            time.sleep(remaining - self.spin_s)
        while perf() < deadline:
            pass
        return True


class LoopError(ActToolError):
    """The loop stopped on an error; torque is off and the log is flushed. `.summary` holds the
    run up to that point."""

    def __init__(self, message: str, summary: RunSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class LoopConfig:
    fps: float | None = None  # None: the spec's
    n_action_steps: int | None = None  # None: the spec's (1 with temporal ensembling)
    # None: the spec's, unless n_action_steps or asynchronous is given (then no ensembling)
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
    # How long the joints' state may be missing before the run stops (ticks, or "100ms"); the
    # ticks in between hold (act_tool.runtime.missed_state).
    max_missed_state: MissedStateBudget = MissedStateBudget.parse(DEFAULT_BUDGET)
    on_stop: OnStop = OnStop.TORQUE_OFF  # park first where the bus still works (park.py)

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_missed_state", MissedStateBudget.parse(self.max_missed_state))
        object.__setattr__(self, "on_stop", OnStop.parse(self.on_stop))
        if self.fps is not None and not 0 < self.fps <= 1000:
            raise ActToolError(f"fps must be in (0, 1000], got {self.fps}")
        if self.n_action_steps is not None and self.n_action_steps < 1:
            raise ActToolError("--n-action-steps must be >= 1")
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

    def resolve(self, spec: EngineSpec) -> LoopConfig:
        """This config with the rate and execution mode filled in from `spec`."""
        coeff = self.temporal_ensemble_coeff
        if coeff is None and self.n_action_steps is None and not self.asynchronous:
            coeff = spec.temporal_ensemble_coeff
        if coeff is not None and self.n_action_steps not in (None, 1):
            raise ActToolError(
                "temporal ensembling executes one action per query: drop --n-action-steps "
                f"{self.n_action_steps}, or drop the ensemble coefficient"
            )
        steps = self.n_action_steps or (1 if coeff is not None else spec.n_action_steps)
        if steps > spec.chunk_size:
            raise ActToolError(f"--n-action-steps {steps} exceeds the chunk size {spec.chunk_size}")
        fps = float(self.fps or spec.fps)
        return replace(self, fps=fps, n_action_steps=steps, temporal_ensemble_coeff=coeff)

    def state_budget_s(self) -> float:
        """The share of a tick the joints' read may take, retries included (a resolved
        config): half the period, so a lost answer leaves the rest for inference and the
        write."""
        assert self.fps is not None
        return 0.5 / self.fps

    def mode(self) -> str:
        """The execution mode in words (a resolved config)."""
        if self.temporal_ensemble_coeff is not None:
            return f"temporal ensembling (coeff {self.temporal_ensemble_coeff:g})"
        prefix = "asynchronous " if self.asynchronous else ""
        return f"{prefix}chunks of {self.n_action_steps} actions"
