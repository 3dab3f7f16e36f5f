"""Action execution identical to LeRobot's ACTPolicy.select_action, on numpy, allocation-free.

- ChunkExecutor: LeRobot's action queue. When the queue is empty the policy is queried and the
  first n_action_steps actions of its chunk are queued; one is popped per tick.
- EnsembleExecutor: LeRobot's ACTTemporalEnsembler (temporal_ensemble_coeff, n_action_steps 1).
  The policy is queried every tick; weights w_i = exp(-c * i), i = 0 the oldest prediction.
  LeRobot keeps a running weighted average per future step; this computes the same blend
  directly from the stored predictions, one dot product per step (see the class).

LeRobot ensembles in normalized units and unnormalizes afterwards; the artifact's chunk is in robot
units. Unnormalization is affine per dimension (y * std + mean) and each ensemble entry is a
weighted average whose weights sum to 1, so averaging in robot units gives the same numbers (the
parity test checks it against LeRobot itself). Accumulation here is float64.

Both keep a fixed set of buffers: `push` copies a chunk in, `pop` copies one action out. No
ufunc runs per step (numpy's broadcasting or casting ufuncs allocate a temporary iterator buffer,
about 6 KB, on each call): only copies and one dot product into a preallocated vector.
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
    """LeRobot's temporal ensembler: query every tick, blend, execute one action.

    LeRobot keeps a running weighted average per future step. The same numbers come from the
    predictions themselves: the action for step t blends what each of the last n chunks (n =
    min(t + 1, chunk_size), counting from the reset) predicted for t, the oldest with weight w_0,
    the newest with w_{n-1}, divided by their sum. So each chunk is stored once, where the steps
    it predicts will look for it, and a step's action is one dot product:

        _pred[r, s]  what the chunk pushed at a step tau = s (mod chunk_size) predicted for the
                     step r (mod chunk_size): chunk[k] lands in row (tau + k) % C, column tau % C
        action(t)    weights over the columns . _pred[t % C]

    After the first chunk_size steps every column holds a live chunk and the weights are a fixed
    sequence rotated by t, read as a slice of a doubled, pre-normalised copy. A push is two
    strided copies and a pop one dot product, instead of updating all chunk_size entries of an
    ensemble each step. Memory: chunk_size^2 x action_dim float64 (0.5 MB for 100 x 6).
    """

    def __init__(self, chunk_size: int, action_dim: int, coeff: float) -> None:
        if not np.isfinite(coeff):
            raise ExecutorError(f"temporal_ensemble_coeff must be finite, got {coeff}")
        self.chunk_size, self.action_dim, self.coeff = chunk_size, action_dim, float(coeff)
        c = chunk_size
        # LeRobot's weights: exp(-coeff * i), i = 0 the oldest prediction.
        self._w = np.exp(-self.coeff * np.arange(c, dtype=np.float64))
        self._cumsum = np.cumsum(self._w)
        # Steady state: the column s holds the chunk of age (t - s) % C, weighted
        # w[C - 1 - age] / sum(w). _doubled[C - 1 - t % C :][:C] is that vector over s.
        i = np.arange(2 * c - 1)
        self._doubled = self._w[c - 1 - ((c - 1 - i) % c)] / self._cumsum[-1]
        # The first steps (t < C - 1): column s holds the chunk pushed at step s, weight
        # w[s] / sum(w[:t + 1]); row t of this table.
        self._first = np.tril(self._w / self._cumsum[:, None])
        # `prepare`, before the step's chunk exists: the steady weights of the other columns
        # (row t % C: the newest column zeroed) and the newest chunk's own weight.
        self._older = np.stack([self._doubled[c - 1 - u : 2 * c - 1 - u] for u in range(c)])
        self._older[np.arange(c), np.arange(c)] = 0.0
        self._newest = float(self._doubled[c - 1])
        self._pred = np.zeros((c, c, action_dim), dtype=np.float64)
        self._acc = np.zeros(action_dim, dtype=np.float64)
        self._pushed = 0  # chunks pushed since the reset (the step being executed + 1)
        self._popped = 0
        self._partial: list[float] = [0.0] * action_dim  # prepare: the older chunks' sum
        self._weight = 0.0  # prepare: the newest chunk's weight
        self._prepared = -1  # the step prepare was for
        self._deferred: np.ndarray | None = None  # finish's chunk, stored at the next step

    @property
    def steady(self) -> bool:
        """Every column holds a live chunk (from the chunk_size-th push after a reset on)."""
        return self._pushed >= self.chunk_size

    def reset(self) -> None:
        self._pushed = self._popped = 0
        self._prepared = -1
        self._deferred = None

    def needs_inference(self) -> bool:
        return True

    def push(self, chunk: np.ndarray) -> None:
        """Add the chunk ([chunk_size, A]) predicted at this step."""
        self._flush()
        if self._pushed != self._popped:
            raise ExecutorError("push twice without pop: the ensembler advances one step per pop")
        self._store(chunk, self._pushed % self.chunk_size)
        self._pushed += 1

    def _store(self, chunk: np.ndarray, u: int) -> None:
        c = self.chunk_size
        np.copyto(self._pred[u:, u], chunk[: c - u], casting="same_kind")
        if u:
            np.copyto(self._pred[:u, u], chunk[c - u :], casting="same_kind")

    def _flush(self) -> None:
        """Store the chunk `finish` left (it belongs to the step before the current one)."""
        chunk = self._deferred
        if chunk is not None:
            self._deferred = None
            self._store(chunk, (self._pushed - 1) % self.chunk_size)

    # `prepare` + `finish`: the same step as push + pop, split around inference so that little
    # is left once the policy has answered. The loop prepares while the joints' answers are on
    # the wire; finish adds the new chunk's first action to the older chunks' sum (six scalar
    # multiply-adds) and stores the chunk itself at the next step's `prepare`.

    def prepare(self) -> None:
        """The older chunks' part of this step's blend (the chunk being computed now does not
        change it)."""
        self._flush()
        t = self._pushed
        if t != self._popped:
            raise ExecutorError("prepare after push: pop that step first")
        c = self.chunk_size
        u = t % c
        if t >= c - 1:
            np.dot(self._older[u], self._pred[u], out=self._acc)
            self._weight = self._newest
        else:  # columns 0..t-1 hold the chunks so far; this step's goes in column t
            np.dot(self._first[t, :t], self._pred[t, :t], out=self._acc)
            self._weight = float(self._first[t, t])
        self._partial = self._acc.tolist()
        self._prepared = t

    def finish(self, chunk: np.ndarray, out: np.ndarray) -> np.ndarray:
        """This step's action into `out`, given its chunk ([chunk_size, A]), which must stay
        unchanged until the next `prepare`, `push` or `reset` (it is stored then)."""
        t = self._pushed
        if self._prepared != t:
            self.prepare()
        w, partial = self._weight, self._partial
        first = chunk[0]
        for j in range(self.action_dim):
            out[j] = partial[j] + w * float(first[j])
        self._deferred = chunk
        self._prepared = -1
        self._pushed = self._popped = t + 1
        return out

    def pop(self, out: np.ndarray) -> np.ndarray:
        """This step's blended action into `out`."""
        t = self._popped
        if t == self._pushed:
            raise ExecutorError("nothing to execute: push a chunk first")
        c = self.chunk_size
        u = t % c
        if t >= c - 1:  # every column live (t = c - 1: the first such step, same weights)
            start = c - 1 - u
            np.dot(self._doubled[start : start + c], self._pred[u], out=self._acc)
        else:  # the first steps: columns 0..t hold the chunks pushed so far
            np.dot(self._first[t, : t + 1], self._pred[t, : t + 1], out=self._acc)
        np.copyto(out, self._acc, casting="same_kind")
        self._popped += 1
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
