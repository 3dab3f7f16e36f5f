"""Lockstep time for evaluation: the loop's deadlines live on the twin's clock.

Each time the loop waits for its next deadline, the clock waits until the bus has handled every
byte the tick wrote (its goals are in force), advances the physics by exactly the time to that
deadline (one control period), renders the cameras and feeds the task monitor. Nothing depends
on how long the tick took on this machine, so a seed's episode is the same on every run, and an
episode runs as fast as the machine computes it. The clock ends the run once the task has been
done for `settle_s`, or when `on_tick` says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from act_tool.sim.bus import TwinBus
from act_tool.sim.cameras import LockstepCameras
from act_tool.sim.detectors import CellState, TaskMonitor, episode_success


class LockstepClock:
    def __init__(
        self,
        bus: TwinBus,
        cameras: LockstepCameras,
        monitor: TaskMonitor,
        settle_s: float = 1.0,
        on_tick: Callable[[], bool] | None = None,
    ) -> None:
        self.bus, self.cameras, self.monitor = bus, cameras, monitor
        self.settle_s = settle_s
        self.on_tick = on_tick  # after each tick's physics; False ends the run
        self.stop_reason = ""
        self.wall_s = 0.0  # wall-clock seconds spent advancing, rendering and judging
        self._now = 0.0
        self._done_since: float | None = None

    def now(self) -> float:
        return self._now

    def start(self) -> None:
        """The episode's first frames and snapshot (before the first tick reads them)."""
        self.cameras.render()
        self.monitor.update(self.bus.twin.cell_state())

    def wait_until(self, deadline: float) -> bool:
        started = time.perf_counter()
        try:
            return self._advance(deadline)
        finally:
            self.wall_s += time.perf_counter() - started

    def _advance(self, deadline: float) -> bool:
        self.bus.quiesce()
        if deadline > self._now:
            self.bus.advance(deadline - self._now)
            self._now = deadline
        self.cameras.render()
        state = self.bus.twin.cell_state()
        self.monitor.update(state)
        if self._task_done(state):
            self.stop_reason = f"task done (held {self.settle_s:g} s)"
            return False
        if self.on_tick is not None and not self.on_tick():
            self.stop_reason = self.stop_reason or "stopped"
            return False
        return True

    def _task_done(self, state: CellState) -> bool:
        """The cube has been in the bowl, released, for `settle_s` of twin time."""
        if not episode_success(state):
            self._done_since = None
            return False
        if self._done_since is None:
            self._done_since = self._now
        return self._now - self._done_since >= self.settle_s
