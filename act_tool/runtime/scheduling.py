"""When the policy runs: synchronously inside the tick, or in a background thread.

Both schedulers give the loop these calls per tick (the loop times each as a stage):
    wants_observation(tick) -> bool   should this tick's observation go to the policy?
    prepare(tick)                     on a query tick, before the observation is complete: work
                                      that needs neither it nor the new chunk
    submit(tick) -> float             the observation is in the runner's inputs: run it
                                      ("inference"); returns the seconds spent waiting for the
                                      first chunk (startup, kept off the deadline grid), else 0
    collect(tick)                     bring a finished chunk into execution ("output")
    next_action(tick, out)            the action to execute at this tick, into `out` ("executor")

SyncScheduler: LeRobot's behaviour exactly (ChunkExecutor or EnsembleExecutor): the tick that needs
a chunk runs the policy and waits for it (that wait is the mode's nature: a query tick that runs
past its deadline is an overrun, the first one included); `collect` copies the chunk out of the
runner's output buffer into the executor.

AsyncScheduler (chunk mode only): the next chunk is computed on a background thread while the
current one keeps executing, so inference never stalls a tick:
- the first chunk is awaited inside `submit` (nothing can move before it exists); that wait is
  startup, returned to the loop, which shifts its deadline grid by it instead of counting an
  overrun (the worker copies each chunk out of the runner, so `collect` only swaps buffers);
- chunk c was computed from the observation of tick t_c, so at tick t its action is
  chunk_c[t - t_c];
- a new query is launched at the first tick where the worker is idle and
  t - t_c >= n_action_steps - lead_ticks (lead_ticks: the inference latency in ticks, rounded up,
  so the new chunk arrives about when LeRobot would have queried);
- a finished chunk replaces the current one at the start of the next tick, skipping the actions
  whose time has passed (t - t_new of them);
- if the current chunk runs out (t - t_c >= chunk_size) before the next arrives, its last action
  is held and the tick is counted as starved.
While the worker runs, the runner's input buffers belong to it: the loop writes them only when
`wants_observation` said yes.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from act_tool.errors import ActToolError
from act_tool.runtime.executor import ChunkExecutor, EnsembleExecutor
from act_tool.runtime.runners.base import ACTION, Runner

FIRST_CHUNK_TIMEOUT_S = 60.0


class SyncScheduler:
    def __init__(self, runner: Runner, executor: ChunkExecutor | EnsembleExecutor) -> None:
        self.runner, self.executor = runner, executor
        self._result: dict[str, np.ndarray] | None = None  # outputs of this tick's query
        # Ensembling splits each step around inference (EnsembleExecutor.prepare / finish).
        self._ensemble = executor if isinstance(executor, EnsembleExecutor) else None
        self._chunk: np.ndarray | None = None  # this tick's chunk, for finish
        self.last_chunk: np.ndarray | None = None  # the newest chunk (observers read it)
        self.chunks = 0  # chunks collected so far
        self.inferences = 0
        self.skipped = 0
        self.starved = 0

    def wants_observation(self, tick: int) -> bool:
        return self.executor.needs_inference()

    def prepare(self, tick: int) -> None:
        """A query tick's work that needs neither its observation nor its chunk (the loop runs
        it while the joints' answers are on the wire): the ensemble's older part."""
        if self._ensemble is not None:
            self._ensemble.prepare()

    def submit(self, tick: int) -> float:
        self._result = self.runner.infer()
        self.inferences += 1
        return 0.0

    def collect(self, tick: int) -> None:
        if self._result is not None:
            chunk = self._result[ACTION][0]  # the runner leaves it alone until its next run
            self._result = None
            self.last_chunk = chunk
            self.chunks += 1
            if self._ensemble is not None:
                self._chunk = chunk
            else:
                self.executor.push(chunk)

    def next_action(self, tick: int, out: np.ndarray) -> np.ndarray:
        if self._chunk is not None:
            chunk, self._chunk = self._chunk, None
            return self._ensemble.finish(chunk, out)  # type: ignore[union-attr]
        return self.executor.pop(out)

    def close(self) -> None:
        pass


class AsyncScheduler:
    def __init__(self, runner: Runner, n_action_steps: int, lead_ticks: int = 1) -> None:
        (out,) = runner.output_specs
        _, self.chunk_size, action_dim = out.shape
        if not 1 <= n_action_steps <= self.chunk_size:
            raise ActToolError(f"n_action_steps must be in 1..{self.chunk_size}")
        self.runner = runner
        self.n_action_steps = n_action_steps
        self.lead_ticks = max(0, min(int(lead_ticks), n_action_steps - 1))
        self._current = np.zeros((self.chunk_size, action_dim), dtype=np.float32)
        self._pending = np.zeros_like(self._current)
        self._t_current = 0
        self._t_pending = 0
        self._t_submit = 0
        self._have = False
        self._ready = False
        self._busy = False
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._go = threading.Event()
        self._done = threading.Event()
        self._stop = False
        self.chunks = 0  # chunks collected so far; the newest is `last_chunk`
        self.inferences = 0
        self.skipped = 0  # actions skipped at chunk switches (their time had passed)
        self.starved = 0  # ticks that held the last action waiting for a chunk
        self._thread = threading.Thread(target=self._work, name="inference", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            self._go.wait()
            self._go.clear()
            if self._stop:
                return
            try:
                chunk = self.runner.infer()[ACTION][0]
                with self._lock:
                    np.copyto(self._pending, chunk)
                    self._t_pending = self._t_submit
                    self._ready = True
            except BaseException as e:  # surfaced to the loop by collect
                self._error = e
            finally:
                self.inferences += 1
                self._busy = False
                self._done.set()

    def prepare(self, tick: int) -> None:
        pass

    def wants_observation(self, tick: int) -> bool:
        if self._busy or self._ready:
            return False
        if not self._have:
            return True
        return tick - self._t_current >= self.n_action_steps - self.lead_ticks

    def submit(self, tick: int) -> float:
        self._busy = True
        self._done.clear()
        self._t_submit = tick
        self._go.set()
        if self._have:
            return 0.0
        start = time.perf_counter()
        self._await_first()
        return time.perf_counter() - start

    def _await_first(self) -> None:
        if not self._done.wait(FIRST_CHUNK_TIMEOUT_S):
            raise ActToolError(
                f"the first inference did not finish within {FIRST_CHUNK_TIMEOUT_S:g} s"
            )

    def collect(self, tick: int) -> None:
        if not self._have and not self._ready:
            self._await_first()
        if self._error is not None:
            raise self._error
        if self._ready:
            with self._lock:
                self._current, self._pending = self._pending, self._current
                self._t_current = self._t_pending
                self._ready = False
            self._have = True
            self.chunks += 1
            self.skipped += max(0, tick - self._t_current)

    @property
    def last_chunk(self) -> np.ndarray:
        return self._current

    def next_action(self, tick: int, out: np.ndarray) -> np.ndarray:
        index = tick - self._t_current
        if index >= self.chunk_size:
            index = self.chunk_size - 1
            self.starved += 1
        np.copyto(out, self._current[index], casting="same_kind")
        return out

    def close(self) -> None:
        """Stop the worker after its current inference (the runner must outlive this call)."""
        self._stop = True
        self._go.set()
        self._thread.join(timeout=30.0)
