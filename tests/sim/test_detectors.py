"""Task detectors: rules on made-up snapshots, then scripted episodes in the twin."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from act_tool.sim.detectors import (
    CellState,
    TaskMonitor,
    cube_in_bowl,
    cube_lift,
    episode_success,
    task_verdict,
)
from tests.sim.helpers import NO_SIM, run_goals

BOWL = np.array([0.2, -0.1, 0.0])


def _state(
    gripper=50.0, cube=(0.2, 0.1, 0.015), pads=(0.2, 0.1, 0.05), fixed=False, moving=False, arm=None
):
    return CellState(
        time=0.0,
        gripper=gripper,
        pad_gap=0.0012 * gripper,
        pads_center=np.array(pads, dtype=float),
        cube_position=np.array(cube, dtype=float),
        bowl_position=BOWL,
        cube_touches_fixed_jaw=fixed,
        cube_touches_moving_jaw=moving,
        cube_touches_arm=fixed or moving if arm is None else arm,
    )


def test_in_bowl_and_released_is_success():
    inside = _state(cube=(0.21, -0.09, 0.02))
    assert cube_in_bowl(inside) and episode_success(inside)
    assert not episode_success(_state(cube=(0.21, -0.09, 0.02), fixed=True, moving=True))
    assert not cube_in_bowl(_state(cube=(0.2, 0.1, 0.015)))  # on the table beside it
    above = _state(cube=(0.2, -0.1, 0.10))
    assert not cube_in_bowl(above)  # above it, not in it
    # verdicts reach eval's JSON: plain Python bools (numpy's are not serializable), whichever
    # test decides them (here the height, a numpy comparison)
    for state in (inside, above):
        assert type(cube_in_bowl(state)) is bool and type(episode_success(state)) is bool


def test_monitor_counts_a_closing_near_the_cube_and_its_lift():
    monitor = TaskMonitor()
    for g in (50.0, 50.0, 45.0, 35.0, 28.0):  # closes from 50 next to the cube
        monitor.update(_state(gripper=g, pads=(0.2, 0.1, 0.02)))
    assert len(monitor.attempts) == 1
    assert monitor.attempts[0].opening == 50.0
    assert monitor.attempts[0].opening_gap_mm == pytest.approx(60.0)
    assert monitor.successful_grasps == 0
    monitor.update(_state(gripper=27.0, cube=(0.2, 0.1, 0.04), fixed=True, moving=True))  # 2.5 cm
    assert monitor.successful_grasps == 1


def test_monitor_ignores_closings_away_from_the_cube_and_lifts_without_fingers():
    monitor = TaskMonitor()
    for g in (50.0, 30.0, 10.0):  # closes 10 cm above the cube
        monitor.update(_state(gripper=g, pads=(0.2, 0.1, 0.115)))
    assert monitor.attempts == []
    for g in (10.0, 30.0, 50.0, 30.0):  # reopens, then closes at the cube
        monitor.update(_state(gripper=g, pads=(0.2, 0.1, 0.02)))
    monitor.update(_state(gripper=20.0, cube=(0.2, 0.1, 0.05), fixed=True, moving=False))
    assert len(monitor.attempts) == 1
    assert monitor.successful_grasps == 0  # lifted, but not between both fingers


def test_monitor_records_the_first_successful_tick():
    monitor = TaskMonitor()
    monitor.update(_state())
    monitor.update(_state(cube=(0.2, -0.1, 0.02), fixed=True, moving=True))
    monitor.update(_state(cube=(0.2, -0.1, 0.02)))
    assert monitor.first_success_tick == 2


# --- scripted episodes in the twin ------------------------------------------------------------


@pytest.fixture
def expert(twin):
    pytest.importorskip("mujoco", reason=NO_SIM)
    from act_tool.sim.expert import ScriptedExpert

    return ScriptedExpert(twin.kinematics, twin.home)


def _run(twin, goals):
    monitor = TaskMonitor()
    run_goals(twin, goals, monitor=monitor)
    return monitor, twin.cell_state()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expert_succeeds(twin, expert, seed):
    monitor, state = _run(twin, expert.plan(twin.reset(seed)).goals)
    assert episode_success(state)
    verdict = task_verdict(seed, state, monitor)  # what eval's JSON holds, serializable
    assert json.loads(json.dumps(dataclasses.asdict(verdict)))["success"] is True
    assert len(monitor.attempts) == 1 and monitor.successful_grasps == 1
    assert monitor.attempts[0].opening_gap_mm > 40.0  # the jaws opened wider than the cube
    assert monitor.first_success_tick is not None


def test_lift_is_a_successful_grasp(twin, expert):
    plan = expert.plan(twin.reset(4))
    lift_end = dict((n, e) for n, _, e in plan.phases)["lift"]
    monitor, state = _run(twin, plan.goals[:lift_end])
    assert (
        cube_lift(state) >= 0.05 and state.cube_touches_fixed_jaw and state.cube_touches_moving_jaw
    )
    assert monitor.successful_grasps == 1
    assert not episode_success(state)


def test_drop_during_the_carry_fails(twin, expert):
    plan = expert.plan(twin.reset(5))
    phases = {n: (first, end) for n, first, end in plan.phases}
    goals = plan.goals.copy()
    first, end = phases["carry"]
    goals[first + 10 :, 5] = 50.0  # the jaws open early in the carry, far from the bowl
    monitor, state = _run(twin, goals)
    assert monitor.successful_grasps == 1  # it was lifted before it fell
    assert cube_lift(state) < 0.005 and not cube_in_bowl(state)  # back on the table
    assert not episode_success(state)


def test_release_outside_the_bowl_fails(twin, expert):
    layout = twin.reset(6)
    bx, by = layout.bowl_xy
    place = (bx, -by)  # the bowl's mirror image across the arm's axis: reachable, 9+ cm away
    monitor, state = _run(twin, expert.plan(layout, place=place).goals)
    assert monitor.successful_grasps == 1
    assert not state.cube_touches_arm  # released...
    assert not episode_success(state)  # ...but not in the bowl
