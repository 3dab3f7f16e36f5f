"""Per-tick timings in a preallocated ring buffer; a JSONL writer thread; a summary table.

The control loop records raw perf_counter timestamps ("marks") at the boundaries of a tick's
stages into one row of a fixed numpy array (no allocation, no arithmetic on the hot path).
Stage durations are derived afterwards, from the tick's plan: the stages in the order that kind
of tick runs them. This module is the one statement of that order. A background thread drains
finished rows to `--log run.jsonl` once a second, so the loop never waits on the disk; rows the
writer could not keep up with are counted, never silently lost.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

# The stages, seconds:
#   state      the joints' sync-read: sending the request, and later collecting the answers
#   camera     newest frames to the runner (query ticks), else a camera health check
#   copy       RGB policies: staged frames flipped into the runner's inputs
#   inference  the policy (sync), or handing the observation to the worker (async)
#   output     the chunk into the executor (async: a buffer swap)
#   executor   this tick's action from the executor, clamped to the action's training range
#   write      sync-write of the goals (nothing with --dry-run)
#   slack      time left until the next deadline
STAGES = ("camera", "state", "copy", "inference", "output", "executor", "write", "slack")
# A tick's plan: the stage of each interval between consecutive marks, in the order they run.
# The sync-read is sent first and collected later; what runs in between overlaps its answers'
# wire time. A query tick (the policy sees this tick's observation) completes the observation
# before inference; any other tick picks its action while the answers are on the wire.
QUERY_TICK = ("state", "camera", "executor", "state", "copy", "inference", "output", "executor", "write")  # fmt: skip
PLAIN_TICK = ("state", "camera", "output", "executor", "state", "write")
N_MARKS = len(QUERY_TICK) + 1
# Recorded per tick besides the marks. t0: the tick's start (mark 0) on the run's clock;
# cpu: the control thread's CPU time over the tick's stages except the inference call (our code
# and its syscalls; not the time waiting for the wire or the servos, and not the model).
# held: the tick's state did not come, it wrote no goal (act_tool.runtime.missed_state);
# faults: the servos' answers missing so far in the run (lost or corrupt, asked again or held).
FIELDS = ("tick", "t", "overrun", "inferred", "period", "cpu", "held", "faults")
RAW = ("tick", "overrun", "inferred", "cpu", "slack", "held", "faults") + tuple(
    f"m{i}" for i in range(N_MARKS)
)
RAW_COL = {name: i for i, name in enumerate(RAW)}
MARK0 = RAW_COL["m0"]
# What the log and `recent()` hold: the fields, then each stage's duration.
COLUMNS = FIELDS + STAGES
COL = {name: i for i, name in enumerate(COLUMNS)}


def _plan_matrix(plan: tuple[str, ...]) -> np.ndarray:
    """(intervals, stages) 0/1 matrix: interval i's duration goes to its stage's column."""
    m = np.zeros((len(plan), len(STAGES)))
    for i, stage in enumerate(plan):
        m[i, STAGES.index(stage)] = 1.0
    return m


_QUERY, _PLAIN = _plan_matrix(QUERY_TICK), _plan_matrix(PLAIN_TICK)


def derive(raw: np.ndarray, t0: float, previous_start: float) -> np.ndarray:
    """Raw rows (consecutive ticks, RAW layout) -> rows in the COLUMNS layout. `previous_start`:
    mark 0 of the tick before the first row (the run's start for the first tick)."""
    out = np.zeros((len(raw), len(COLUMNS)))
    if not len(raw):
        return out
    marks = raw[:, MARK0 : MARK0 + N_MARKS]
    query = raw[:, RAW_COL["inferred"]] > 0
    stages = np.zeros((len(raw), len(STAGES)))
    if query.any():
        stages[query] = np.diff(marks[query], axis=1) @ _QUERY
    if (~query).any():
        stages[~query] = np.diff(marks[~query][:, : len(PLAIN_TICK) + 1], axis=1) @ _PLAIN
    stages[:, STAGES.index("slack")] = raw[:, RAW_COL["slack"]]
    starts = marks[:, 0]
    for name in ("tick", "overrun", "inferred", "cpu", "held", "faults"):
        out[:, COL[name]] = raw[:, RAW_COL[name]]
    out[:, COL["t"]] = starts - t0
    out[:, COL["period"]] = np.diff(starts, prepend=previous_start)
    out[:, len(FIELDS) :] = stages
    return out


@dataclass(frozen=True)
class StageSummary:
    name: str
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class RunSummary:
    ticks: int
    overruns: int
    missed_slots: int  # deadlines skipped after overruns
    elapsed_s: float
    target_hz: float
    achieved_hz: float
    inferences: int
    stages: tuple[StageSummary, ...]
    dropped_log_rows: int = 0
    stop_reason: str = ""
    skipped_actions: int = 0  # async: actions whose time had passed when their chunk arrived
    starved_ticks: int = 0  # async: ticks that held the last action waiting for a chunk
    cpu: StageSummary | None = None  # the control thread's CPU time per tick
    held_ticks: int = 0  # ticks whose state did not come (no goal written)
    faults: str = ""  # what held them, in words ("" when none)

    def table(self) -> str:
        lines = [
            f"{self.ticks} ticks in {self.elapsed_s:.2f} s: {self.achieved_hz:.2f} Hz "
            f"(target {self.target_hz:g} Hz), {self.overruns} overruns, "
            f"{self.missed_slots} missed slots, {self.inferences} inferences",
            f"  {'stage':<12}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}",
        ]
        for s in self.stages:
            lines.append(f"  {s.name:<12}{s.p50_ms:>10.3f}{s.p99_ms:>10.3f}{s.max_ms:>10.3f}")
        if self.cpu is not None:
            c = self.cpu
            lines.append(
                f"  loop CPU per tick (the control thread's own work, inference aside): "
                f"p50 {c.p50_ms:.3f} ms, "
                f"p99 {c.p99_ms:.3f} ms, max {c.max_ms:.3f} ms"
            )
        if self.skipped_actions or self.starved_ticks:
            lines.append(
                f"  async: {self.skipped_actions} actions skipped at chunk switches, "
                f"{self.starved_ticks} ticks held the last action"
            )
        if self.faults:
            lines.append(f"  {self.faults}")
        if self.dropped_log_rows:
            lines.append(f"  log: {self.dropped_log_rows} rows dropped (writer fell behind)")
        if self.stop_reason:
            lines.append(f"  stopped: {self.stop_reason}")
        return "\n".join(lines)


class Telemetry:
    """A ring of `capacity` raw rows (RAW); `row()` hands the loop the row of the next tick.
    `t0` is the run's start on the loop's clock (set by the loop before the first tick)."""

    def __init__(self, capacity: int = 1 << 16, log_path: Path | None = None) -> None:
        if capacity < 2:
            raise ValueError("capacity must be >= 2")
        self.capacity = capacity
        self.rows = np.zeros((capacity, len(RAW)), dtype=np.float64)
        self.count = 0  # rows committed
        self.t0 = 0.0
        self.log_path = Path(log_path) if log_path is not None else None
        self._written = 0
        self.dropped = 0
        self._file: IO[str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._io_lock = threading.Lock()

    # --- the loop's side -------------------------------------------------------------------

    def row(self) -> np.ndarray:
        """The row for the next tick (zeroed), committed by `commit()`."""
        r = self.rows[self.count % self.capacity]
        r.fill(0.0)
        return r

    def commit(self) -> None:
        self.count += 1

    # --- writer ----------------------------------------------------------------------------

    def start(self) -> Telemetry:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115
            self._thread = threading.Thread(target=self._run, name="telemetry", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.flush()

    def flush(self) -> None:
        """Write every committed row not yet written (oldest lost rows counted as dropped)."""
        if self._file is None:
            return
        with self._io_lock:
            end = self.count
            start = max(self._written, end - self.capacity + 1)  # the row being filled is unsafe
            self.dropped += start - self._written
            lines = []
            for r in self._derived(start, end):
                rec = {name: float(r[COL[name]]) for name in COLUMNS}
                rec["tick"] = int(rec["tick"])
                rec["overrun"] = bool(rec["overrun"])
                rec["inferred"] = bool(rec["inferred"])
                rec["held"] = bool(rec["held"])
                rec["faults"] = int(rec["faults"])
                lines.append(json.dumps(rec))
            if lines:
                self._file.write("\n".join(lines) + "\n")
                self._file.flush()
            self._written = end

    def close(self) -> None:
        """Stop the writer, write the remaining rows, close the file (safe to call twice)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self._file is not None:
            self.flush()
            self._file.close()
            self._file = None

    def __enter__(self) -> Telemetry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- summary ---------------------------------------------------------------------------

    def _derived(self, start: int, end: int) -> np.ndarray:
        """Committed ticks start..end-1 (still in the ring) in the COLUMNS layout."""
        raw = self.rows[np.arange(start, end) % self.capacity]
        before = start - 1
        keep = before >= 0 and before > self.count - self.capacity  # not overwritten yet
        previous = self.rows[before % self.capacity, MARK0] if keep else self.t0
        return derive(raw, self.t0, previous)

    def recent(self) -> np.ndarray:
        """The committed ticks still in the ring, oldest first, in the COLUMNS layout."""
        n = min(self.count, self.capacity - 1)  # the row after the newest may be in use
        return self._derived(self.count - n, self.count)

    def summary(
        self,
        elapsed_s: float,
        target_hz: float,
        overruns: int,
        inferences: int,
        missed_slots: int = 0,
        stop_reason: str = "",
        skipped_actions: int = 0,
        starved_ticks: int = 0,
        held_ticks: int = 0,
        faults: str = "",
    ) -> RunSummary:
        """Percentiles over the rows still in the ring; counts from the loop's own counters."""
        rows = self.recent()

        def percentiles(name: str) -> StageSummary:
            col = rows[:, COL[name]] * 1e3 if len(rows) else np.zeros(1)
            return StageSummary(
                name,
                float(np.percentile(col, 50)),
                float(np.percentile(col, 99)),
                float(col.max()),
            )

        stages = [percentiles(name) for name in STAGES]
        return RunSummary(
            ticks=self.count,
            overruns=overruns,
            missed_slots=missed_slots,
            elapsed_s=elapsed_s,
            target_hz=target_hz,
            achieved_hz=self.count / elapsed_s if elapsed_s > 0 else 0.0,
            inferences=inferences,
            stages=tuple(stages),
            dropped_log_rows=self.dropped,
            stop_reason=stop_reason,
            skipped_actions=skipped_actions,
            starved_ticks=starved_ticks,
            cpu=percentiles("cpu"),
            held_ticks=held_ticks,
            faults=faults,
        )
