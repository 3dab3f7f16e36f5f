"""The twin's lockstep tick driven from outside (act_tool.eval.sim_steps, behind LeRobot's env
plugin): the scripted expert's goals, step by step, do the task and the episode says so as
`act-tool eval --sim` would; the time limit truncates; the servos end with torque off."""

from __future__ import annotations

import numpy as np
import pytest

from act_tool.errors import ActToolError

pytest.importorskip("mujoco", reason="the `sim` extra (MuJoCo) is not installed")


def test_the_scripted_expert_succeeds_one_step_at_a_time():
    from act_tool.eval.sim_steps import SimStepper, StepperConfig
    from act_tool.sim.expert import ScriptedExpert

    with SimStepper(StepperConfig(episode_time_s=20.0)) as stepper:
        first = stepper.reset(seed=4)
        assert set(first.frames) == {"front", "handeye"}
        assert first.frames["front"].shape == (96, 128, 3) and first.state.dtype == np.float32
        twin = stepper.twin
        plan = ScriptedExpert(twin.kinematics, twin.home, 30).plan(twin.layout)
        goals = np.vstack([plan.goals, np.repeat(plan.goals[-1:], 60, axis=0)])  # then hold
        terminated = truncated = False
        for goal in goals:
            _, terminated, truncated = stepper.step(goal)
            if terminated or truncated:
                break
        result = stepper.result()
        assert terminated and not truncated, result
        assert result.success and result.successful_grasps >= 1 and result.grasp_attempts >= 1
        assert result.steps_to_success is not None and result.steps_to_success < result.ticks
        assert result.ticks == stepper.ticks == len(result.trajectory) + 1  # the last: judged
        with pytest.raises(ActToolError, match="reset it first"):
            stepper.step(goals[-1])
        assert stepper.torque() == (True,) * 6
    assert stepper.torque() == (False,) * 6  # closed: torque off


def test_the_time_limit_truncates_and_a_wrong_action_is_refused():
    from act_tool.eval.sim_steps import SimStepper, StepperConfig

    with SimStepper(
        StepperConfig(episode_time_s=0.2, cameras=("front",), height=32, width=48)
    ) as s:
        observation = s.reset(seed=1)
        assert set(observation.frames) == {"front"}
        with pytest.raises(ActToolError, match="6 goals"):
            s.step(np.zeros(5))
        for tick in range(6):
            observation, terminated, truncated = s.step(observation.state)
            assert not terminated and truncated == (tick == 5)
        assert s.result().stop_reason == "tick limit reached"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(cameras=("top",)), "the twin has front, handeye"),
        (dict(height=4), "camera size"),
        (dict(fps=0), "fps 0"),
        (dict(episode_time_s=0), "episode time"),
    ],
)
def test_bad_stepper_options(changes, message):
    from act_tool.eval.sim_steps import StepperConfig

    with pytest.raises(ActToolError, match=message):
        StepperConfig(**changes)
