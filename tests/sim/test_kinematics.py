"""The closed-form IK against MuJoCo's own forward kinematics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.sim.helpers import NO_SIM

mujoco = pytest.importorskip("mujoco", reason=NO_SIM)

from act_tool.sim.errors import UnreachableError  # noqa: E402

# The IK is closed form in float64 over a chain of about 0.4 m: its rounding is ~1e-16 * 0.4 m
# per operation over some dozens of operations; 1e-9 m (and 1e-9 rad) leaves a wide margin while
# any geometric slip (a wrong offset, sign or axis) shows up at the millimetre level.
POS_TOL = 1e-9
ANGLE_TOL = 1e-9


def _gripper_pose(twin, q):
    m, d = twin.model, twin.data
    d.qpos[twin._qpos[:5]] = q
    mujoco.mj_kinematics(m, d)
    g = m.body("gripper").id
    rot = d.xmat[g].reshape(3, 3).copy()
    return d.xpos[g].copy(), rot


def _targets(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        r, a = rng.uniform(0.16, 0.27), rng.uniform(-1.2, 1.2)
        yield (
            np.array([r * math.cos(a), r * math.sin(a), rng.uniform(0.0, 0.07)]),
            rng.uniform(-1, 1),
        )


def test_straight_down_targets_are_reached_exactly(twin):
    from act_tool.sim.twin import GRIP_CENTER

    kin = twin.kinematics
    for target, roll in _targets(50):
        q = kin.solve(target, roll)
        assert np.all(q >= kin.lower) and np.all(q <= kin.upper)
        origin, rot = _gripper_pose(twin, q)
        np.testing.assert_allclose(origin + rot @ GRIP_CENTER, target, rtol=0, atol=POS_TOL)
        assert abs(rot[2, 2] - 1.0) < ANGLE_TOL  # the gripper's z axis points up: fingers down
        closing = math.atan2(rot[1, 0], rot[0, 0])
        assert abs(math.remainder(closing - kin.closing_yaw(q[0], roll), 2 * math.pi)) < ANGLE_TOL
        np.testing.assert_allclose(kin.tool_position(q), target, rtol=0, atol=POS_TOL)


def test_high_targets_tilt_the_hand_and_stay_exact(twin):
    from act_tool.sim.twin import GRIP_CENTER

    target = np.array([0.2, 0.05, 0.12])  # straight down is past the wrist's limit here
    q = twin.kinematics.solve(target, 0.3)
    origin, rot = _gripper_pose(twin, q)
    np.testing.assert_allclose(origin + rot @ GRIP_CENTER, target, rtol=0, atol=POS_TOL)
    tilt = math.degrees(math.acos(rot[2, 2]))
    assert 1.0 < tilt <= 45.0


def test_roll_squares_the_jaws_to_a_cube(twin):
    kin = twin.kinematics
    for yaw in np.linspace(-math.pi, math.pi, 13):
        roll = kin.roll_for_yaw(0.4, yaw)
        assert abs(roll) <= math.pi / 4 + ANGLE_TOL
        off = math.remainder(kin.closing_yaw(0.4, roll) - yaw, math.pi / 2)
        assert abs(off) < ANGLE_TOL


def test_out_of_reach_raises(twin):
    with pytest.raises(UnreachableError, match="reach"):
        twin.kinematics.solve((0.6, 0.0, 0.0), 0.0)
