"""The simulated arm judges its own episodes: sessions of `eval --port sim` (the twin on the wall
clock, with the operator's keys, resets, recording and live view of an arm session) get their
verdicts from the twin's detectors, as `eval --sim` (lockstep) does, instead of the operator.

Episode n runs on the layout of `seed + n` (a re-recorded episode runs on its seed again): the
cell is laid out afresh and the arm put at home before torque goes on, and a task monitor
watches the physics thread from then on (act_tool.sim.realtime).
"""

from __future__ import annotations

from collections.abc import Callable

from act_tool.runtime.interfaces import TaskVerdict
from act_tool.sim.detectors import TaskMonitor, task_verdict
from act_tool.sim.realtime import RealtimeTwin

Log = Callable[[str], None]


class TwinJudge:
    def __init__(self, driver: RealtimeTwin, seed: int, log: Log = lambda _m: None) -> None:
        self.driver, self.seed, self.log = driver, seed, log
        self._monitor = TaskMonitor()
        self._episode_seed = seed

    def begin(self, n: int) -> None:
        self._episode_seed = self.seed + n
        self._monitor = TaskMonitor()
        layout = self.driver.relayout(self._episode_seed, self._monitor)
        self.log(
            f"the twin laid out seed {self._episode_seed}: cube at {layout.cube_xy[0]:.3f}, "
            f"{layout.cube_xy[1]:.3f} m, bowl at {layout.bowl_xy[0]:.3f}, "
            f"{layout.bowl_xy[1]:.3f} m"
        )

    def verdict(self) -> TaskVerdict:
        bus = self.driver.bus
        with bus.lock:
            state = bus.twin.cell_state()
        return task_verdict(self._episode_seed, state, self._monitor)
