"""What a repeated call allocates, traced with tracemalloc: for the tests that hold the control
tick to allocating nothing, and for the bus benchmark that reports it."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TickMemory:
    kept: int  # bytes still allocated after `n` calls (after warm-up)
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
    tracemalloc.start()
    try:
        for _ in range(50):
            tick()
        before, _ = tracemalloc.get_traced_memory()
        for i in range(n):
            current, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            tick()
            _, peak = tracemalloc.get_traced_memory()
            peaks[i] = peak - current
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return TickMemory(after - before, peaks, n)
