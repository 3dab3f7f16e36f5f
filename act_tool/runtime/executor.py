"""Action execution identical to LeRobot's ACTPolicy.select_action, on numpy, allocation-free.

- ChunkExecutor: LeRobot's action queue. When the queue is empty the policy is queried and the
  first n_action_steps actions of its chunk are queued; one is popped per tick.
- EnsembleExecutor: LeRobot's ACTTemporalEnsembler (temporal_ensemble_coeff, n_action_steps 1).
  The policy is queried every tick; weights w_i = exp(-c * i), i = 0 the oldest prediction; a
  running weighted average per future step with its count; the first entry is popped.

LeRobot ensembles in normalized units and unnormalizes afterwards; the artifact's chunk is in robot
units. Unnormalization is affine per dimension (y * std + mean) and each ensemble entry is a
weighted average whose weights sum to 1, so averaging in robot units gives the same numbers (the
parity test checks it against LeRobot itself). Accumulation here is float64.

Both keep a fixed set of buffers: `push` copies a chunk in, `pop` copies one action out. Every
ufunc works on operands of one shape and dtype: numpy's broadcasting or casting ufuncs allocate a
temporary iterator buffer (about 6 KB) on each call, so the ensembler keeps its per-entry counts
and weights as full [chunk, A] arrays and casts the chunk to float64 with a plain copy first.
"""

from __future__ import annotations

import numpy as np

from act_tool.errors import ActToolError


class ExecutorError(ActToolError):
    """An executor used out of order (pop with nothing queued) or configured wrongly."""


class ChunkExecutor:
    """Query when the queue is empty; execute the first `n_action_steps` actions of each chunk."""

    def __init__(self, chunk_size: int, action_dim: int, n_action_steps: int) -> None:
        if not 1 <= n_action_steps <= chunk_size:
            raise ExecutorError(
                f"n_action_steps must be in 1..chunk_size ({chunk_size}), got {n_action_steps}"
            )
        self.chunk_size, self.action_dim, self.n_action_steps = (
            chunk_size,
            action_dim,
            n_action_steps,
        )
        self._queue = np.zeros((n_action_steps, action_dim), dtype=np.float32)
        self._next = n_action_steps  # index of the next action; == n: queue empty

    def reset(self) -> None:
        self._next = self.n_action_steps

    @property
    def queued(self) -> int:
        return self.n_action_steps - self._next

    def needs_inference(self) -> bool:
        return self._next >= self.n_action_steps

    def push(self, chunk: np.ndarray) -> None:
        """Queue the first n_action_steps actions of `chunk` ([chunk_size, A], robot units)."""
        np.copyto(self._queue, chunk[: self.n_action_steps], casting="same_kind")
        self._next = 0

    def pop(self, out: np.ndarray) -> np.ndarray:
        if self._next >= self.n_action_steps:
            raise ExecutorError("no action queued: query the policy first (needs_inference())")
        np.copyto(out, self._queue[self._next], casting="same_kind")
        self._next += 1
        return out


class EnsembleExecutor:
    """LeRobot's temporal ensembler: query every tick, blend, pop the first entry.

    The entries live in a buffer twice the chunk long, from `_head` on: a pop moves the head
    instead of shifting the entries (they move back to the start once per chunk or so). Once the
    entries' counts read len, len-1, ..., 1 (oldest first; from about the chunk_size-th query on)
    every push and pop keeps them so, and the blend uses weights computed once instead of
    looking them up per count.
    """

    def __init__(self, chunk_size: int, action_dim: int, coeff: float) -> None:
        if not np.isfinite(coeff):
            raise ExecutorError(f"temporal_ensemble_coeff must be finite, got {coeff}")
        self.chunk_size, self.action_dim, self.coeff = chunk_size, action_dim, float(coeff)
        weights = np.exp(-self.coeff * np.arange(chunk_size, dtype=np.float64))
        self._w = weights
        cumsum = np.cumsum(weights)
        self._cumsum = cumsum
        self._cumsum_prev = np.concatenate([[0.0], cumsum])  # _cumsum_prev[k] = cumsum[k - 1]
        room = 2 * chunk_size
        self._ens = np.zeros((room, action_dim), dtype=np.float64)
        # Per-entry counts, repeated across the A columns (see the module note).
        self._count = np.zeros((room, action_dim), dtype=np.int64)
        m = chunk_size - 1
        self._a = np.zeros((m, action_dim))  # per-entry weights, scratch
        self._b = np.zeros_like(self._a)
        self._tmp = np.zeros_like(self._a)  # the new chunk in float64
        self._one = np.ones((m, action_dim), dtype=np.int64)
        self._cap = np.full_like(self._one, chunk_size)
        # The steady state: counts len, ..., 1. The weights for counts chunk-1, ..., 1; a push
        # onto m entries uses their last m rows.
        self._descending = np.arange(chunk_size, 0, -1)
        steady = np.repeat(self._descending[1:, None], action_dim, axis=1)
        self._steady_prev = self._cumsum_prev[steady]
        self._steady_w = self._w[steady]
        self._steady_sum = self._cumsum[steady]
        self._steady = False
        self._head = 0  # row of the oldest entry
        self._len = 0  # valid entries, from _head on

    def reset(self) -> None:
        self._len = 0
        self._head = 0
        self._steady = False

    def needs_inference(self) -> bool:
        return True

    def push(self, chunk: np.ndarray) -> None:
        """Blend a new chunk ([chunk_size, A]) into the running ensemble."""
        m = self._len
        if m == 0:
            self._head = 0
            self._steady = False
            np.copyto(self._ens[: self.chunk_size], chunk, casting="same_kind")
            self._count[: self.chunk_size].fill(1)
            self._len = self.chunk_size
            return
        if m >= self.chunk_size:
            raise ExecutorError("push twice without pop: the ensembler advances one step per pop")
        head = self._head
        if head + m + 1 > len(self._ens):  # back to the start (no overlap: head > chunk_size)
            np.copyto(self._ens[:m], self._ens[head : head + m])
            np.copyto(self._count[:m], self._count[head : head + m])
            head = self._head = 0
        ens = self._ens[head : head + m]
        tmp = self._tmp[:m]
        np.copyto(tmp, chunk[:m], casting="same_kind")
        # ens = (ens * cumsum[count - 1] + new * w[count]) / cumsum[count]
        if self._steady:
            k = self.chunk_size - 1 - m
            np.multiply(ens, self._steady_prev[k:], out=ens)
            np.multiply(tmp, self._steady_w[k:], out=tmp)
            np.add(ens, tmp, out=ens)
            np.divide(ens, self._steady_sum[k:], out=ens)
        else:
            count, a, b = self._count[head : head + m], self._a[:m], self._b[:m]
            np.take(self._cumsum_prev, count, out=a, mode="clip")
            np.multiply(ens, a, out=ens)
            np.take(self._w, count, out=b, mode="clip")
            np.multiply(tmp, b, out=tmp)
            np.add(ens, tmp, out=ens)
            np.take(self._cumsum, count, out=a, mode="clip")
            np.divide(ens, a, out=ens)
            np.add(count, self._one[:m], out=count)
            np.minimum(count, self._cap[:m], out=count)
            self._count[head + m].fill(1)
            self._steady = np.array_equal(
                self._count[head : head + m + 1, 0], self._descending[-(m + 1) :]
            )
        # The newest prediction's last action has no prior average: append it with count 1.
        np.copyto(self._ens[head + m], chunk[self.chunk_size - 1], casting="same_kind")
        self._len = m + 1

    def pop(self, out: np.ndarray) -> np.ndarray:
        if self._len == 0:
            raise ExecutorError("nothing to execute: push a chunk first")
        np.copyto(out, self._ens[self._head], casting="same_kind")
        self._head += 1
        self._len -= 1
        return out


def make_executor(
    chunk_size: int, action_dim: int, n_action_steps: int, temporal_ensemble_coeff: float | None
) -> ChunkExecutor | EnsembleExecutor:
    """The executor LeRobot would use for this configuration."""
    if temporal_ensemble_coeff is not None:
        if n_action_steps != 1:
            raise ExecutorError(
                "temporal ensembling executes one action per query: set n_action_steps to 1 "
                f"(got {n_action_steps}), or drop the ensemble coefficient"
            )
        return EnsembleExecutor(chunk_size, action_dim, temporal_ensemble_coeff)
    return ChunkExecutor(chunk_size, action_dim, n_action_steps)
