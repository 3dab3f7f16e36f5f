"""What the control loop and the session need of an arm and of a set of cameras.

Any arm kind (act_tool.runtime.arm_kinds) and any camera set satisfy these: the real SO-101, the
virtual one, a simulated one, or a test's fake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class Arm(Protocol):
    """What the loop drives: joint reads split around the tick's other work, goal writes."""

    units: Any  # act_tool.robot_types.Units (or its value)
    joint_names: Sequence[str]

    def read_positions(self, out: np.ndarray) -> np.ndarray: ...
    def start_read(self) -> None: ...  # send the position request; answers on the wire
    def finish_read(self, out: np.ndarray) -> np.ndarray: ...  # collect them into `out`
    def write_goals(self, goals: np.ndarray) -> np.ndarray: ...
    # returns the servos it could not reach ("servo 6 (gripper)"), or None / [] when none
    def disable_torque(self) -> Sequence[str] | None: ...


class SessionArm(Arm, Protocol):
    """An arm as a session holds it: entering connects (torque on unless a dry run), exiting
    disables torque and closes; `report()` is printed after the run ("" when nothing to say)."""

    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: object) -> Any: ...
    def report(self) -> str: ...
    def enable_torque(self) -> None: ...  # on again after disable_torque (holds where it is)


class Cameras(Protocol):
    """What the loop reads frames from (act_tool.hw.cameras.CameraSet, or a fake)."""

    cameras: Mapping[str, Any]  # name -> camera

    def latest(self) -> Mapping[str, tuple[np.ndarray, float]]: ...  # (frame, age), a copy
    def read_into(self, out: Mapping[str, np.ndarray]) -> Mapping[str, float]: ...
    # (1,H,W,3) newest frame and its age, no copy; the camera leaves it alone until the next call
    def acquire(self, name: str) -> tuple[np.ndarray, float]: ...
    def buffers(self, name: str) -> Sequence[np.ndarray]: ...  # every array acquire may return
    def check(self) -> None: ...  # raise if a camera died or its newest frame is too old


class Clock(Protocol):
    """The time the loop's deadlines live on: the wall clock (RealClock), or a simulation's,
    which advances only when the loop waits (act_tool.sim: each tick advances the physics by
    exactly one period)."""

    stop_reason: str  # why wait_until returned False

    def now(self) -> float: ...

    # Wait until `deadline`; False ends the run (an episode that is over, say).
    def wait_until(self, deadline: float) -> bool: ...


@dataclass
class TaskVerdict:
    """An episode judged by what the arm's world saw (the twin's detectors), not the operator."""

    seed: int  # the layout the episode ran on
    success: bool
    grasp_attempts: int = 0
    successful_grasps: int = 0
    steps_to_success: int | None = None  # the first tick the task was done
    openings_before_grasps: list[float] = field(default_factory=list)  # gripper 0..100
    opening_gaps_mm: list[float] = field(default_factory=list)  # the pad gap at those openings
    grasp_ticks: list[int] = field(default_factory=list)  # the tick each attempt began


class EpisodeJudge(Protocol):
    """An arm that sees the task itself (the simulated one) judges its own episodes: `begin`
    lays out the cell for episode `n` and puts the arm at its start with torque off (the session
    turns it on), `verdict` judges the episode that just ended."""

    def begin(self, n: int) -> None: ...
    def verdict(self) -> TaskVerdict: ...
