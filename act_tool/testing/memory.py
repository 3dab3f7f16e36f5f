"""What a repeated call allocates, traced with tracemalloc: for the tests that hold the control
tick to allocating nothing, and for the bus benchmark that reports it."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Deep enough that an allocation anywhere inside a tick still shows this module's frame.
TRACE_FRAMES = 128


@dataclass(frozen=True)
class TickMemory:
    # bytes still allocated after `n` calls (after warm-up), by the calls themselves: traced
    # allocations whose stack passes through this module (other threads' are not the tick's)
    kept: int
    peaks: np.ndarray  # per call: the most traced bytes above its start (transient use)
    n: int

    @property
    def peak_p99(self) -> int:
        """A percentile, not the max: tracemalloc also sees other threads' rare allocations,
        while an allocation the call itself makes shows on every call."""
        return int(np.percentile(self.peaks, 99))


def tick_memory(tick: Callable[[], object], n: int = 1000, warmup: int = 100) -> TickMemory:
    """Call `tick` `warmup` times, then trace `n` calls."""
    for _ in range(warmup):
        tick()
    gc.collect()
    peaks = np.zeros(n, dtype=np.int64)
    tracemalloc.start(TRACE_FRAMES)
    try:
        for _ in range(50):
            tick()
        before = tracemalloc.take_snapshot()
        for i in range(n):
            current, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            tick()
            _, peak = tracemalloc.get_traced_memory()
            peaks[i] = peak - current
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()  # the filtering below allocates too: untraced
    return TickMemory(_own_bytes(after) - _own_bytes(before), peaks, n)


def _own_bytes(snapshot: tracemalloc.Snapshot) -> int:
    """Traced bytes allocated from inside a call made here (the stack passes this module)."""
    own = snapshot.filter_traces(
        [
            tracemalloc.Filter(True, __file__, all_frames=True),
            tracemalloc.Filter(False, tracemalloc.__file__),  # the earlier snapshot itself
        ]
    )
    return sum(stat.size for stat in own.statistics("filename"))
