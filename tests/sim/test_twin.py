"""The twin's servos, clock, torque switch and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.helpers import NO_SIM, run_goals

mujoco = pytest.importorskip("mujoco", reason=NO_SIM)

from act_tool.sim.errors import SimError  # noqa: E402
from act_tool.sim.layout import CellLayout  # noqa: E402


def test_lockstep_clock_runs_whole_steps(twin):
    for _ in range(30):
        twin.step(1 / 30)
    assert twin._steps == 500  # 1 s at 2 ms, however 1/30 s splits into steps
    assert abs(twin.time - 1.0) < 1e-9  # 500 additions of 0.002 in float64


def test_goals_reach_present_positions(twin):
    goal = twin.home + np.array([20.0, 15.0, -10.0, -20.0, 45.0, -30.0])
    positions = run_goals(twin, [goal] * 45)  # 1.5 s
    # A position servo with a 2.94 N m limit and kp 998 N m/rad settles within a fraction of a
    # degree against gravity; 0.5 degree (and 0.5 gripper units) is a generous servo deadband.
    np.testing.assert_allclose(positions[-1], goal, rtol=0, atol=0.5)
    np.testing.assert_allclose(twin.goals(), goal, rtol=0, atol=1e-9)


def test_goals_are_held_to_the_joint_ranges(twin):
    twin.set_goals([500.0, 0, 0, 0, 0, 150.0])
    assert twin.goals()[0] == pytest.approx(110.0, abs=1e-3)  # the pan's range is +-110 degrees
    assert twin.goals()[5] == pytest.approx(100.0, abs=1e-3)
    with pytest.raises(SimError, match="finite"):
        twin.set_goals([float("nan"), 0, 0, 0, 0, 0])
    with pytest.raises(SimError, match="6 goals"):
        twin.set_goals([0, 0, 0])


def test_torque_off_lets_the_arm_sag(twin):
    twin.reset(seed=1, joints=[0.0, 0.0, 0.0, 0.0, 0.0, 50.0])  # upper arm up, forearm out
    held = run_goals(twin, [twin.goals()] * 30)[-1]
    assert abs(twin.joint_torques()[2]) > 0.01  # the elbow's servo holds the forearm up
    twin.set_torque([True, True, False, True, True, True])  # the elbow's servo off
    assert twin.torque() == (True, True, False, True, True, True)
    sagged = run_goals(twin, [twin.goals()] * 30)[-1]
    assert twin.joint_torques()[2] == 0.0
    assert sagged[2] - held[2] > 20.0  # the forearm falls: elbow_flex grows (tip down)
    np.testing.assert_allclose(sagged[[0, 1, 3, 4]], held[[0, 1, 3, 4]], rtol=0, atol=1.0)
    twin.set_torque(True)
    back = run_goals(twin, [held] * 45)[-1]
    np.testing.assert_allclose(back[:5], held[:5], rtol=0, atol=0.5)


def test_all_servos_off_the_arm_falls(twin):
    twin.reset(seed=1, joints=[0.0, 0.0, 0.0, 0.0, 0.0, 50.0])
    twin.set_torque(False)
    start = twin.joint_positions()
    end = run_goals(twin, [start] * 30)[-1]
    assert np.abs(end[1:3] - start[1:3]).max() > 20.0


def test_same_seed_same_trajectory(twin):
    from act_tool.sim.expert import ScriptedExpert

    plan = ScriptedExpert(twin.kinematics, twin.home).plan(twin.reset(seed=11))
    goals = plan.goals[:140]  # through the grasp and the lift: contacts included
    first = run_goals(twin, goals)
    cube_first = twin.cube_pose().position
    twin.reset(seed=11)
    second = run_goals(twin, goals)
    assert np.array_equal(first, second)
    assert np.array_equal(cube_first, twin.cube_pose().position)


def test_layouts_are_deterministic_and_within_reach(twin):
    assert CellLayout.sample(5) == CellLayout.sample(5)
    assert CellLayout.sample(5) != CellLayout.sample(6)
    for seed in range(200):
        layout = CellLayout.sample(seed)
        assert layout.clearance() >= 0.04
        cube = (*layout.cube_xy, 0.015)
        twin.kinematics.solve(cube, 0.0)  # raises if out of reach


def test_reset_places_cube_and_bowl(twin):
    layout = twin.reset(seed=3)
    np.testing.assert_allclose(twin.cube_pose().position[:2], layout.cube_xy, rtol=0, atol=1e-12)
    np.testing.assert_allclose(twin.bowl_position()[:2], layout.bowl_xy, rtol=0, atol=1e-12)
    np.testing.assert_allclose(twin.joint_positions(), twin.home, rtol=0, atol=1e-9)
    with pytest.raises(SimError, match="seed or a layout"):
        twin.reset()
