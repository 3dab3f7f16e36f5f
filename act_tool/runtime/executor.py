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
    """LeRobot's temporal ensembler: query every tick, blend, pop the first entry."""

    def __init__(self, chunk_size: int, action_dim: int, coeff: float) -> None:
        if not np.isfinite(coeff):
            raise ExecutorError(f"temporal_ensemble_coeff must be finite, got {coeff}")
        self.chunk_size, self.action_dim, self.coeff = chunk_size, action_dim, float(coeff)
        weights = np.exp(-self.coeff * np.arange(chunk_size, dtype=np.float64))
        self._w = weights
        cumsum = np.cumsum(weights)
        self._cumsum = cumsum
        self._cumsum_prev = np.concatenate([[0.0], cumsum])  # _cumsum_prev[k] = cumsum[k - 1]
        self._ens = np.zeros((chunk_size, action_dim), dtype=np.float64)
        self._spare = np.zeros_like(self._ens)
        # Per-entry counts, repeated across the A columns (see the module note).
        self._count = np.zeros((chunk_size, action_dim), dtype=np.int64)
        self._spare_count = np.zeros_like(self._count)
        self._a = np.zeros_like(self._ens)  # per-entry weights, scratch
        self._b = np.zeros_like(self._ens)
        self._tmp = np.zeros_like(self._ens)  # the new chunk in float64
        self._one = np.ones_like(self._count)
        self._cap = np.full_like(self._count, chunk_size)
        self._len = 0  # valid entries in _ens

    def reset(self) -> None:
        self._len = 0

    def needs_inference(self) -> bool:
        return True

    def push(self, chunk: np.ndarray) -> None:
        """Blend a new chunk ([chunk_size, A]) into the running ensemble."""
        m = self._len
        if m == 0:
            np.copyto(self._ens, chunk, casting="same_kind")
            self._count.fill(1)
            self._len = self.chunk_size
            return
        if m >= self.chunk_size:
            raise ExecutorError("push twice without pop: the ensembler advances one step per pop")
        ens, count, a, b, tmp = (
            self._ens[:m],
            self._count[:m],
            self._a[:m],
            self._b[:m],
            self._tmp[:m],
        )
        # ens = (ens * cumsum[count - 1] + new * w[count]) / cumsum[count]
        np.take(self._cumsum_prev, count, out=a, mode="clip")
        np.multiply(ens, a, out=ens)
        np.take(self._w, count, out=b, mode="clip")
        np.copyto(tmp, chunk[:m], casting="same_kind")
        np.multiply(tmp, b, out=tmp)
        np.add(ens, tmp, out=ens)
        np.take(self._cumsum, count, out=a, mode="clip")
        np.divide(ens, a, out=ens)
        np.add(count, self._one[:m], out=count)
        np.minimum(count, self._cap[:m], out=count)
        # The newest prediction's last action has no prior average: append it with count 1.
        np.copyto(self._ens[m], chunk[self.chunk_size - 1], casting="same_kind")
        self._count[m].fill(1)
        self._len = m + 1

    def pop(self, out: np.ndarray) -> np.ndarray:
        n = self._len
        if n == 0:
            raise ExecutorError("nothing to execute: push a chunk first")
        np.copyto(out, self._ens[0], casting="same_kind")
        # Shift by one into the spare buffers (no overlap), then swap.
        np.copyto(self._spare[: n - 1], self._ens[1:n])
        np.copyto(self._spare_count[: n - 1], self._count[1:n])
        self._ens, self._spare = self._spare, self._ens
        self._count, self._spare_count = self._spare_count, self._count
        self._len = n - 1
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
