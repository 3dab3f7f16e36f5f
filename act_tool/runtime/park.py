"""What the arm does when a run ends: torque off where it stands (the default), or park first.

- `torque-off`: torque goes off at once. Nothing moves that the user did not ask for, and a bus
  that failed is not asked for more; but a raised arm falls (gravity on the SO-101's shoulder
  and elbow), onto whatever lies beneath it.
- `park`: on an intentional end (the duration, the tick limit, Ctrl-C) and on a failure that is
  not the servo bus's (a camera, the policy), the arm moves slowly back to the pose it started
  from, then torque goes off. A fault of the bus itself (a servo silent, an adapter gone, a
  servo that keeps an error, the state missing past its budget) is never parked: the arm stops
  at once. A second Ctrl-C or any bus error while parking ends the motion: torque goes off
  where the arm is.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from act_tool.compat import StrEnum
from act_tool.errors import ActToolError
from act_tool.runtime.interfaces import Arm

PARK_SPEED = 30.0  # units (degrees, or % of range) per second: slow enough to stop by hand
PARK_MAX_S = 10.0  # a longer way is taken faster
PARK_SETTLE_S = 0.3  # held at the pose before torque off


class OnStop(StrEnum):
    TORQUE_OFF = "torque-off"
    PARK = "park"

    @classmethod
    def parse(cls, value: str | OnStop) -> OnStop:
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ActToolError(f"--on-stop {value!r}: use one of {choices}") from None


def move_to(
    arm: Arm,
    pose: np.ndarray,
    fps: float,
    speed: float = PARK_SPEED,
    min_s: float = 0.0,
    stop: threading.Event | None = None,
) -> None:
    """A straight line in joint space from where the arm is to `pose` (the arm's units), its
    fastest joint at `speed` units/s (taking at least `min_s`, at most PARK_MAX_S), a goal per
    tick at `fps` on deadlines; `stop` set cuts it short (the arm holds where it is). Raises
    whatever the arm raises."""
    start = np.zeros(len(pose), dtype=np.float32)
    arm.read_positions(start)
    here = start.astype(np.float64)
    target = np.asarray(pose, dtype=np.float64)
    distance = float(np.max(np.abs(target - here))) if len(target) else 0.0
    seconds = min(PARK_MAX_S, max(min_s, distance / speed))
    steps = max(1, round(seconds * fps))
    period = 1.0 / fps
    deadline = time.perf_counter()
    for k in range(1, steps + 1):
        if stop is not None and stop.is_set():
            return
        arm.write_goals(here + (target - here) * (k / steps))
        deadline += period
        time.sleep(max(0.0, deadline - time.perf_counter()))


def park(arm: Arm, pose: np.ndarray, fps: float) -> float:
    """Move slowly to `pose` (move_to at PARK_SPEED), then hold it briefly. Returns the seconds
    it took."""
    begin = time.perf_counter()
    move_to(arm, pose, fps)
    time.sleep(PARK_SETTLE_S)
    return time.perf_counter() - begin
