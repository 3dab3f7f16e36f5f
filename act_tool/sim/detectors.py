"""Task detectors of the pick-and-place cell, evaluated on `CellState` snapshots once per tick.

- success (`episode_success`): the cube lies in the bowl (centre within the bowl's floor radius
  plus half a cube, below the rim) and is released (it touches no part of the arm);
- a grasp attempt: the gripper closes from open by at least `close_by` (0..100 units) while the
  point between the pads is within `near` of the cube's centre; its opening just before (the
  largest since the previous attempt) is recorded, in gripper units and as the pad gap in mm;
- a successful grasp: during an attempt, the cube is lifted at least `lift` (2 cm) above the
  table while it touches both jaws (between the fingers);
- an attempt ends when the gripper reopens by `close_by`.

Pure Python over the snapshot: no MuJoCo needed, so the rules can be tested on made-up states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from act_tool.runtime.interfaces import TaskVerdict
from act_tool.sim.cell_model import BOWL_FLOOR_RADIUS, BOWL_HEIGHT, CUBE_SIZE


@dataclass(frozen=True)
class CellState:
    """What the detectors read from the twin at one tick (world frame, m)."""

    time: float  # s since reset
    gripper: float  # the jaw's position, 0 (closed) .. 100 (open)
    pad_gap: float  # distance between the jaw pads, m (negative: overlapping)
    pads_center: np.ndarray  # midpoint between the two pads (3,)
    cube_position: np.ndarray  # the cube's centre (3,)
    bowl_position: np.ndarray  # the bowl's centre on the table (3,)
    cube_touches_fixed_jaw: bool
    cube_touches_moving_jaw: bool
    cube_touches_arm: bool  # any arm geom, jaws included


def cube_lift(state: CellState) -> float:
    """Height of the cube's lowest face above the table, m (0 when it rests on the table)."""
    return float(state.cube_position[2] - CUBE_SIZE / 2)


def cube_between_fingers(state: CellState) -> bool:
    return state.cube_touches_fixed_jaw and state.cube_touches_moving_jaw


def cube_in_bowl(state: CellState) -> bool:
    """The cube's centre lies over the bowl's floor and below its rim."""
    offset = state.cube_position[:2] - state.bowl_position[:2]
    inside = math.hypot(*offset) <= BOWL_FLOOR_RADIUS + CUBE_SIZE / 2
    return bool(inside and state.cube_position[2] - state.bowl_position[2] < BOWL_HEIGHT)


def episode_success(state: CellState) -> bool:
    """Success at the end of an episode: the cube is in the bowl and the gripper let go."""
    return bool(cube_in_bowl(state) and not state.cube_touches_arm)  # a bool for the JSON


@dataclass
class GraspAttempt:
    tick: int  # the tick the closing was noticed
    opening: float  # gripper units just before closing (the largest since the last attempt)
    opening_gap_mm: float  # the pad gap at that opening, mm
    lifted: bool = False  # the cube was lifted >= `lift` between the fingers during it


@dataclass
class TaskMonitor:
    """Counts grasp attempts and successful grasps and finds the first successful tick."""

    near: float = 0.04  # m from the pads' midpoint to the cube's centre
    close_by: float = 8.0  # gripper units
    lift: float = 0.02  # m
    attempts: list[GraspAttempt] = field(default_factory=list, init=False)
    first_success_tick: int | None = field(default=None, init=False)
    # Tracking state: the largest opening since the last attempt (and its pad gap), the smallest
    # during a closing, whether the jaws are closing or closed, the attempt in progress (None if
    # the closing was away from the cube), ticks seen.
    _peak: float = field(default=-math.inf, init=False, repr=False)
    _peak_gap: float = field(default=0.0, init=False, repr=False)
    _low: float = field(default=math.inf, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)
    _current: GraspAttempt | None = field(default=None, init=False, repr=False)
    _ticks: int = field(default=0, init=False, repr=False)

    def update(self, state: CellState) -> None:
        """Feeds one tick's snapshot."""
        tick, self._ticks = self._ticks, self._ticks + 1
        if self._closed:
            self._low = min(self._low, state.gripper)
            lifted = cube_lift(state) >= self.lift and cube_between_fingers(state)
            if self._current is not None and lifted:
                self._current.lifted = True
            if state.gripper >= self._low + self.close_by:  # reopened: the attempt is over
                self._closed, self._current = False, None
                self._peak, self._peak_gap = state.gripper, state.pad_gap
        else:
            if state.gripper >= self._peak:
                self._peak, self._peak_gap = state.gripper, state.pad_gap
            elif state.gripper <= self._peak - self.close_by:
                self._closed, self._low = True, state.gripper
                if np.linalg.norm(state.pads_center - state.cube_position) <= self.near:
                    self._current = GraspAttempt(tick, self._peak, self._peak_gap * 1e3)
                    self.attempts.append(self._current)
        if self.first_success_tick is None and episode_success(state):
            self.first_success_tick = tick

    @property
    def successful_grasps(self) -> int:
        return sum(a.lifted for a in self.attempts)


def task_verdict(seed: int, state: CellState, monitor: TaskMonitor) -> TaskVerdict:
    """An episode's verdict from its last snapshot and the monitor that watched it: the one
    judgement of lockstep evaluation (`eval --sim`) and of sessions on the simulated arm."""
    return TaskVerdict(
        seed=seed,
        success=episode_success(state),
        grasp_attempts=len(monitor.attempts),
        successful_grasps=monitor.successful_grasps,
        steps_to_success=monitor.first_success_tick,
        openings_before_grasps=[round(a.opening, 2) for a in monitor.attempts],
        opening_gaps_mm=[round(a.opening_gap_mm, 1) for a in monitor.attempts],
        grasp_ticks=[a.tick for a in monitor.attempts],
    )
