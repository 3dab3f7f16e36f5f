"""Inverse kinematics of the SO-101 for top-down grasps, in closed form.

The arm has five joints: pan turns a vertical plane, in which shoulder_lift, elbow_flex and
wrist_flex form a planar three-link chain; wrist_roll turns the gripper about its own axis. So a
target is reached in three steps: the pan that brings the target into the arm's plane
(atan2 of the target around the pan axis, corrected for the plane's small sideways offset), a
two-link solution for the wrist in that plane with the hand at the requested pitch, and the roll
that turns the jaws' closing direction to the requested yaw. Where the requested pitch is out
of reach (too far, too close or past a joint limit) the hand tilts to the nearest reachable
pitch, up to 45 degrees off, found by bisection so it changes continuously along a path.

The link vectors, axis directions and the tool point are read from the MuJoCo model at its zero
pose, so the solution is exact for the model (tests check it against MuJoCo's forward
kinematics). The tool point is a point in the gripper body's frame, e.g. between the jaw pads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from act_tool.hw.so101.joints import JOINT_NAMES
from act_tool.sim.errors import UnreachableError

ARM_JOINTS = JOINT_NAMES[:5]  # shoulder_pan .. wrist_roll
STRAIGHT_DOWN = -math.pi / 2
PITCH_STEP = math.radians(2.5)
PITCH_TILT_MAX = math.radians(45.0)
LIMIT_MARGIN = math.radians(2.0)  # solutions keep this far inside the joint ranges


def _angle(v) -> float:
    return math.atan2(v[1], v[0])


def _rot(v, a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


@dataclass(frozen=True)
class ArmKinematics:
    """The arm's planar chain, read from a MuJoCo model (see `from_model`)."""

    pan_axis: np.ndarray  # (x, y) of the pan axis
    pan_sign: float  # +1 if the pan joint turns counter-clockwise seen from above
    lateral: float  # the arm plane's offset from the pan axis, m
    lift: np.ndarray  # (r, z) of the shoulder_lift axis in the plane
    links: tuple[np.ndarray, np.ndarray, np.ndarray]  # lift->elbow, elbow->wrist, wrist->tool axis
    signs: tuple[float, float, float]  # +1 where a joint turns counter-clockwise in (r, z)
    tool_angle0: float  # the tool axis' angle in (r, z) at zero
    tool_offset: np.ndarray  # (x, y, 0): the tool point off the roll axis, gripper frame
    grip_rot0: np.ndarray  # the gripper body's rotation at zero (3, 3)
    roll_sign: float  # +1 if roll turns about the gripper's +z
    lower: np.ndarray  # joint limits (5,) less LIMIT_MARGIN, rad
    upper: np.ndarray

    @staticmethod
    def from_model(model, tool_point) -> ArmKinematics:
        """Reads the chain of `model` (an MjModel holding the arm) with the tool at
        `tool_point` (x, y, z in the gripper body's frame)."""
        import mujoco

        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)
        jid = [model.joint(n).id for n in ARM_JOINTS]
        anchors = [data.xanchor[j].copy() for j in jid]
        axes = [data.xaxis[j].copy() for j in jid]
        grip = model.body("gripper").id
        rot = data.xmat[grip].reshape(3, 3).copy()
        tool_axis_pt = data.xpos[grip] + rot[:, 2] * tool_point[2]  # on the roll axis
        pan_xy = anchors[0][:2].copy()
        plane = [np.array([p[0] - pan_xy[0], p[2]]) for p in (*anchors[1:4], tool_axis_pt)]
        return ArmKinematics(
            pan_axis=pan_xy,
            pan_sign=float(np.sign(axes[0][2])),
            lateral=float(tool_axis_pt[1] - pan_xy[1]),
            lift=plane[0],
            links=(plane[1] - plane[0], plane[2] - plane[1], plane[3] - plane[2]),
            signs=tuple(float(-np.sign(a[1])) for a in axes[1:4]),
            tool_angle0=_angle((-rot[0, 2], -rot[2, 2])),
            tool_offset=np.array([tool_point[0], tool_point[1], 0.0]),
            grip_rot0=rot,
            roll_sign=float(np.sign(np.dot(axes[4], rot[:, 2]))),
            lower=np.array([model.jnt_range[j][0] for j in jid]) + LIMIT_MARGIN,
            upper=np.array([model.jnt_range[j][1] for j in jid]) - LIMIT_MARGIN,
        )

    def gripper_rotation(self, pan: float, pitch: float, roll: float) -> np.ndarray:
        """The gripper body's rotation for a pan, a tool pitch in the arm's plane and a roll."""
        turn = _rz(self.pan_sign * pan) @ _ry(-(pitch - self.tool_angle0))
        return turn @ self.grip_rot0 @ _rz(self.roll_sign * roll)

    def tool_position(self, q) -> tuple[float, float, float]:
        """Forward kinematics: the tool point (world, m) for joint radians `q` (5,)."""
        phi = [s * a for s, a in zip(self.signs, q[1:4], strict=True)]
        u1, u2, u3 = self.links
        axis_rz = self.lift + _rot(u1, phi[0]) + _rot(u2, phi[0] + phi[1]) + _rot(u3, sum(phi))
        xy = self.pan_axis + _rot((axis_rz[0], self.lateral), self.pan_sign * q[0])
        pitch = self.tool_angle0 + sum(phi)
        offset = self.gripper_rotation(q[0], pitch, q[4]) @ self.tool_offset
        return (xy[0] + offset[0], xy[1] + offset[1], axis_rz[1] + offset[2])

    def closing_yaw(self, pan: float, roll: float) -> float:
        """Yaw of the jaws' closing axis (fixed jaw -> moving jaw) with the hand straight down."""
        x_axis = self.gripper_rotation(pan, STRAIGHT_DOWN, roll)[:, 0]
        return math.atan2(x_axis[1], x_axis[0])

    def roll_for_yaw(self, pan: float, yaw: float, period: float = math.pi / 2) -> float:
        """The roll closest to zero that turns the closing axis to `yaw` modulo `period`
        (a cube's faces repeat every 90 degrees), with the hand straight down."""
        raw = (yaw - self.closing_yaw(pan, 0.0)) * self.roll_sign
        roll = (raw + period / 2) % period - period / 2
        return float(np.clip(roll, self.lower[4], self.upper[4]))

    def _planar(self, target_rz: np.ndarray, pitch: float) -> np.ndarray | None:
        """lift, elbow, wrist angles (rad) putting the tool axis point at `target_rz` (plane
        coordinates) with the tool at `pitch`; None if out of reach or past a limit."""
        u1, u2, u3 = self.links
        total = pitch - self.tool_angle0  # sum of the three counter-clockwise angles
        wrist = target_rz - _rot(u3, total) - self.lift
        l1, l2, d = np.linalg.norm(u1), np.linalg.norm(u2), np.linalg.norm(wrist)
        cos_rel = (d * d - l1 * l1 - l2 * l2) / (2 * l1 * l2)
        if abs(cos_rel) > 1.0:
            return None
        best = None
        for rel in (math.acos(cos_rel), -math.acos(cos_rel)):
            a = _angle(wrist) - math.atan2(l2 * math.sin(rel), l1 + l2 * math.cos(rel))
            phi1 = a - _angle(u1)
            phi2 = (a + rel - _angle(u2)) - phi1
            phi3 = total - phi1 - phi2
            q = np.array(
                [_wrap(s * p) for s, p in zip(self.signs, (phi1, phi2, phi3), strict=True)]
            )
            elbow_z = math.sin(a) * l1
            within = np.all(q >= self.lower[1:4]) and np.all(q <= self.upper[1:4])
            if within and (best is None or elbow_z > best[0]):  # elbow up where both fit
                best = (elbow_z, q)
        return None if best is None else best[1]

    def solve(self, target, roll: float, pitch: float = STRAIGHT_DOWN) -> np.ndarray:
        """Joint radians (5,) putting the tool point at `target` (x, y, z) with wrist roll
        `roll`, at `pitch` or else at the reachable pitch nearest to it (up to 45 degrees off);
        raises UnreachableError."""
        target = np.asarray(target, dtype=float)
        q = self._solve_at(target, roll, pitch)
        if q is not None:
            return q
        for tilt in np.arange(PITCH_STEP, PITCH_TILT_MAX + 1e-9, PITCH_STEP):
            found = [
                s for s in (1.0, -1.0) if self._solve_at(target, roll, pitch + s * tilt) is not None
            ]
            if found:  # the feasible edge lies within the last step: bisect for it
                return self._edge(target, roll, pitch, found[0], tilt - PITCH_STEP, tilt)
        raise UnreachableError(
            f"no joint solution reaches {np.round(target, 3).tolist()} m within the joint "
            "limits: keep targets within the arm's reach"
        )

    def _edge(self, target, roll, pitch, sign, bad, good) -> np.ndarray:
        """The solution at the smallest feasible tilt in (bad, good], so the pitch changes
        continuously as a target moves out of the requested pitch's reach."""
        for _ in range(24):  # 2.5 degrees / 2**24: continuous to 3e-9 rad
            mid = (bad + good) / 2
            if self._solve_at(target, roll, pitch + sign * mid) is None:
                bad = mid
            else:
                good = mid
        return self._solve_at(target, roll, pitch + sign * good)

    def _solve_at(self, target: np.ndarray, roll: float, pitch: float) -> np.ndarray | None:
        # The tool point's offset from the roll axis, turned by everything but the pan.
        turn = _ry(-(pitch - self.tool_angle0)) @ self.grip_rot0 @ _rz(self.roll_sign * roll)
        w = turn @ self.tool_offset
        # target - pan axis = Rz(pan angle) @ (r + w_x, lateral + w_y): solve for r and the angle.
        rel = target[:2] - self.pan_axis
        side = self.lateral + w[1]
        d2 = rel @ rel - side * side
        if d2 <= 0:
            return None
        reach = math.sqrt(d2)
        pan = self.pan_sign * (_angle(rel) - math.atan2(side, reach))
        if not self.lower[0] <= pan <= self.upper[0]:
            return None
        planar = self._planar(np.array([reach - w[0], target[2] - w[2]]), pitch)
        if planar is None:
            return None
        return np.array([pan, *planar, roll])
