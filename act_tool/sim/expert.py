"""A scripted expert for the pick-and-place cell: goal joint values for every control tick.

Every episode has the same phases with the same durations (what makes a small policy's job
learnable), only the places differ:

    start    hold at home                           0.2 s
    reach    to 5 cm above the cube, jaws open      1.5 s
    descend  straight down around the cube          0.8 s
    close    jaws shut (goal 0: the servo squeezes) 0.5 s
    lift     straight up to carrying height         0.7 s
    carry    over the bowl's centre                 1.6 s
    lower    to release height                      0.4 s
    release  jaws open                              0.4 s
    retreat  up                                     0.4 s
    home     back to the start pose                 1.4 s
    rest     hold                                   0.3 s

The hand points straight down where the arm reaches so (the IK tilts it as little as needed
elsewhere, e.g. at carrying height); the wrist roll turns the jaws square to the cube's faces
(the roll nearest zero, as a cube repeats every 90 degrees). The grip centre (where a held
cube's centre sits, against the fixed pad) is aimed `OFFSET` short of the cube's centre, on the
fixed jaw's side, so the fixed finger clears the cube by that much on the way down and the
closing moving jaw pushes the cube onto it. Between waypoints the grip centre moves
in cylindrical coordinates around the pan axis (radius, angle, height: arcs around the base,
straight lines up and down) with a smoothstep profile, and roll and gripper follow the same
profile. The plan is open-loop: the cube does not move before the grasp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from act_tool.sim.cell_model import CUBE_SIZE
from act_tool.sim.kinematics import ArmKinematics
from act_tool.sim.layout import CellLayout
from act_tool.sim.units import GRIPPER, to_radians

OPEN = 50.0  # gripper units: a pad gap of about 6 cm
CLOSED = 0.0
OFFSET = 0.004  # m: the fixed pad's clearance from the cube on the way down
GRASP_Z = CUBE_SIZE / 2  # the grip centre's height at the grasp
ABOVE = 0.05  # the approach starts this high above the grasp
CARRY_Z = 0.085  # the cube's centre while carried (the bowl's rim is 4 cm high)
RELEASE_Z = 0.07
RETREAT = 0.03
PHASES = (
    ("start", 0.2),
    ("reach", 1.5),
    ("descend", 0.8),
    ("close", 0.5),
    ("lift", 0.7),
    ("carry", 1.6),
    ("lower", 0.4),
    ("release", 0.4),
    ("retreat", 0.4),
    ("home", 1.4),
    ("rest", 0.3),
)


@dataclass(frozen=True)
class Waypoint:
    position: tuple[float, float, float]  # the grip centre, m
    roll: float  # rad
    gripper: float  # 0..100


@dataclass(frozen=True)
class Plan:
    goals: np.ndarray  # (ticks, 6) LeRobot units
    phases: tuple[tuple[str, int, int], ...]  # (name, first tick, end tick exclusive)
    fps: int

    def phase_at(self, tick: int) -> str:
        for name, first, end in self.phases:
            if first <= tick < end:
                return name
        return self.phases[-1][0]


def _smoothstep(s: float) -> float:
    return s * s * (3.0 - 2.0 * s)


class ScriptedExpert:
    """Plans an episode's goals for a layout with the twin's kinematics."""

    def __init__(self, kinematics: ArmKinematics, home: np.ndarray, fps: int = 30) -> None:
        self.kin = kinematics
        self.home = np.asarray(home, dtype=float)
        self.fps = fps
        self.home_tool = self._tool_point(self.home)

    def _tool_point(self, joints_units: np.ndarray) -> tuple[float, float, float]:
        """Where the grip centre is for `joints_units` (the IK's own forward kinematics)."""
        return self.kin.tool_position(to_radians(joints_units)[:5])

    @staticmethod
    def episode_ticks(fps: int) -> int:
        """Ticks in every episode's plan at `fps`."""
        return sum(max(1, round(seconds * fps)) for _, seconds in PHASES)

    def waypoints(
        self, layout: CellLayout, place: tuple[float, float] | None = None
    ) -> dict[str, Waypoint]:
        """The episode's waypoints; `place` (x, y) overrides where the cube is released."""
        cx, cy = layout.cube_xy
        bx, by = layout.bowl_xy if place is None else place
        pan = self.kin.solve((cx, cy, GRASP_Z), 0.0)[0]
        roll = self.kin.roll_for_yaw(pan, layout.cube_yaw)
        pan = self.kin.solve((cx, cy, GRASP_Z), roll)[0]  # the offset turns with the roll
        roll = self.kin.roll_for_yaw(pan, layout.cube_yaw)
        yaw = self.kin.closing_yaw(pan, roll)
        gx, gy = cx - OFFSET * math.cos(yaw), cy - OFFSET * math.sin(yaw)
        home_roll = math.radians(self.home[4])
        home_grip = self.home[GRIPPER]
        return {
            "start": Waypoint(self.home_tool, home_roll, home_grip),
            "reach": Waypoint((gx, gy, GRASP_Z + ABOVE), roll, OPEN),
            "descend": Waypoint((gx, gy, GRASP_Z), roll, OPEN),
            "close": Waypoint((gx, gy, GRASP_Z), roll, CLOSED),
            "lift": Waypoint((gx, gy, CARRY_Z), roll, CLOSED),
            "carry": Waypoint((bx, by, CARRY_Z), roll, CLOSED),
            "lower": Waypoint((bx, by, RELEASE_Z), roll, CLOSED),
            "release": Waypoint((bx, by, RELEASE_Z), roll, OPEN),
            "retreat": Waypoint((bx, by, RELEASE_Z + RETREAT), roll, OPEN),
            "home": Waypoint(self.home_tool, home_roll, home_grip),
            "rest": Waypoint(self.home_tool, home_roll, home_grip),
        }

    def plan(self, layout: CellLayout, place: tuple[float, float] | None = None) -> Plan:
        """Goals for every tick of the episode (the first tick is the start pose)."""
        points = self.waypoints(layout, place)
        rows, phases = [], []
        previous = points["start"]
        for name, seconds in PHASES:
            ticks = max(1, round(seconds * self.fps))
            phases.append((name, len(rows), len(rows) + ticks))
            target = points[name]
            for k in range(1, ticks + 1):
                rows.append(self._goal(previous, target, _smoothstep(k / ticks)))
            previous = target
        return Plan(np.array(rows), tuple(phases), self.fps)

    def _goal(self, a: Waypoint, b: Waypoint, s: float) -> np.ndarray:
        pa, pb = self._cylindrical(a.position), self._cylindrical(b.position)
        turn = math.remainder(pb[1] - pa[1], 2 * math.pi)
        r, angle, z = pa[0] + s * (pb[0] - pa[0]), pa[1] + s * turn, pa[2] + s * (pb[2] - pa[2])
        ox, oy = self.kin.pan_axis
        target = (ox + r * math.cos(angle), oy + r * math.sin(angle), z)
        roll = a.roll + s * (b.roll - a.roll)
        goal = np.empty(6)
        goal[:5] = np.degrees(self.kin.solve(target, roll))
        goal[GRIPPER] = a.gripper + s * (b.gripper - a.gripper)
        return goal

    def _cylindrical(self, p) -> tuple[float, float, float]:
        dx, dy = p[0] - self.kin.pan_axis[0], p[1] - self.kin.pan_axis[1]
        return math.hypot(dx, dy), math.atan2(dy, dx), p[2]


def smooth_offsets(rng: np.random.Generator, ticks: int, std: np.ndarray | float) -> np.ndarray:
    """(ticks, 6) offsets for the goals that wander smoothly (random knots every 0.5 s at 30 fps,
    joined by straight lines), zero at the first tick; `std` per joint in LeRobot units."""
    knots = max(2, ticks // 15 + 2)
    points = rng.normal(size=(knots, 6)) * np.broadcast_to(np.asarray(std, float), (6,))
    points[0] = 0.0
    t = np.linspace(0, knots - 1, ticks)
    return np.stack([np.interp(t, np.arange(knots), points[:, j]) for j in range(6)], axis=1)
