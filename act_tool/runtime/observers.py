"""The loop's observer seam: what a recorder or a live view sees of each tick.

An observer is handed references to the tick's data right after the goals are written (the
arrays belong to the loop and change on the next tick: copy what you keep, and return quickly,
since the tick is still running). The frames the policy saw stay until the loop's next query
tick, so another thread may copy them later (`copy_seen_frames` says whether it was in time). Heavy work (encoding, drawing) belongs on the observer's own
thread behind a bounded queue; `on_tick` may raise to stop the run (torque goes off as for any
failure in a tick).

    class Counter:
        def begin(self, spec, fps, cameras): self.n = 0
        def on_tick(self, view): self.n += 1
        def end(self, stop_reason): print(self.n, stop_reason)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from act_tool.runtime.interfaces import Cameras
from act_tool.spec import EngineSpec


@dataclass
class TickView:
    """One tick, by reference (valid until `on_tick` returns)."""

    tick: int
    query: bool  # the policy saw this tick's observation
    state: np.ndarray  # (joints,) the positions read this tick, the arm's units
    goal: np.ndarray  # (joints,) the goals written (after the arm's own limits)
    # camera -> (1,H,W,3) uint8 BGR the policy saw; None on ticks it saw none (read `cameras`)
    frames: Mapping[str, np.ndarray] | None
    chunk: np.ndarray | None  # (chunk, actions) a chunk that arrived this tick, else None
    # the tick's raw telemetry row (act_tool.runtime.telemetry RAW layout): its stage marks are
    # complete, and its tick and inferred columns; cpu and slack are not yet (the observers' own
    # time is part of the tick)
    marks: np.ndarray
    cameras: Cameras
    # `frames` stay as they are until the loop's next query tick reads new ones; `generation`
    # counts those reads, so another thread can copy them later (`copy_seen_frames`) and know
    # whether the copy is whole
    generation: int = 0
    current_generation: Callable[[], int] = lambda: 0


def copy_seen_frames(
    frames: Mapping[str, np.ndarray],
    names: tuple[str, ...],
    out: Mapping[str, np.ndarray],
    generation: int,
    current_generation: Callable[[], int],
) -> bool:
    """Copy a query tick's frames (`TickView.frames`) into `out`, off the control thread; False
    when the loop read newer frames meanwhile, so the copy may be torn (count it as not kept).
    The loop bumps the generation before it rewrites a frame, so an unchanged generation after
    the copy means no byte changed during it."""
    if current_generation() != generation:
        return False
    for name in names:
        np.copyto(out[name], frames[name])
    return current_generation() == generation


class TickObserver(Protocol):
    def begin(self, spec: EngineSpec, fps: float, cameras: Cameras) -> None: ...
    def on_tick(self, view: TickView) -> None: ...
    def end(self, stop_reason: str) -> None: ...  # after torque off, whatever ended the run
