"""The simulated arm judges its own episodes (act_tool.sim.judge): on the wall-clock twin, each
episode gets a fresh cell of its seed, time held until torque goes on, and the verdict of the
twin's detectors; `eval --port sim` takes those verdicts instead of the operator's."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.sim import helpers

pytest.importorskip("mujoco", reason=helpers.NO_SIM)

from act_tool.cli import app  # noqa: E402
from act_tool.hw.emulator import DEFAULT_CALIBRATION  # noqa: E402
from act_tool.sim.bus import TwinBus  # noqa: E402
from act_tool.sim.expert import ScriptedExpert  # noqa: E402
from act_tool.sim.judge import TwinJudge  # noqa: E402
from act_tool.sim.layout import CellLayout  # noqa: E402
from act_tool.sim.realtime import RealtimeTwin  # noqa: E402
from act_tool.sim.twin import Twin  # noqa: E402

FPS = 30


def _drive(bus: TwinBus, goals: np.ndarray) -> None:
    """The expert's goals into the twin on the wall clock at FPS, torque on (what the servo
    registers would do for a client on the bus)."""
    with bus.lock:
        bus.twin.set_torque(True)
    start = time.perf_counter()
    for k, goal in enumerate(goals):
        with bus.lock:
            bus.twin.set_goals(goal)
        time.sleep(max(0.0, start + (k + 1) / FPS - time.perf_counter()))


def test_the_realtime_twin_judges_a_scripted_success_then_lays_out_the_next_seed():
    twin = Twin()
    expert = ScriptedExpert(twin.kinematics, twin.home)
    with TwinBus(twin, DEFAULT_CALIBRATION) as bus, RealtimeTwin(bus) as driver:
        judge = TwinJudge(driver, seed=7)
        judge.begin(0)
        time.sleep(0.2)
        with bus.lock:  # torque is off after the relayout: time holds, the arm stays at home
            assert twin.time == 0.0 and not any(twin.torque())
            assert np.allclose(twin.joint_positions(), twin.home, atol=1e-6)
            layout = twin.layout
        assert layout == CellLayout.sample(7)

        _drive(bus, expert.plan(layout).goals)
        done = judge.verdict()
        assert done.seed == 7 and done.success
        assert done.grasp_attempts == 1 and done.successful_grasps == 1
        assert done.opening_gaps_mm[0] > 40.0 and done.steps_to_success is not None

        judge.begin(1)  # episode 2: seed 8, a fresh cell and a fresh monitor
        time.sleep(0.1)
        fresh = judge.verdict()
        assert fresh.seed == 8 and not fresh.success and fresh.grasp_attempts == 0
        with bus.lock:
            assert twin.layout == CellLayout.sample(8) and twin.time == 0.0


def test_eval_port_sim_lays_out_a_seed_per_episode_and_takes_the_twins_verdicts(
    tiny_onnx, tmp_path
):
    out = tmp_path / "eval.json"
    args = ["eval", str(tiny_onnx), "--port", "sim", "--episodes", "2", "--episode-time", "1"]
    args += ["--reset-time", "0", "--seed", "5", "--force", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "laid out seed 5" in result.output and "laid out seed 6" in result.output
    assert "verdicts by the twin's detectors" in result.output
    data = json.loads(out.read_text())
    assert data["judged_by"] == "twin"
    episodes = data["per_episode"]
    assert [e["seed"] for e in episodes] == [5, 6]
    # judged (a bool, not unknown): the tiny policy's random weights do not do the task
    assert [e["success"] for e in episodes] == [False, False]
    assert data["success"]["judged"] == 2 and "grasp" in data


def test_eval_port_sim_refuses_operator_verdicts(tiny_onnx):
    args = ["eval", str(tiny_onnx), "--port", "sim", "--episodes", "1", "--episode-time", "1"]
    result = CliRunner().invoke(app, [*args, "--verdicts", "s", "--force"])
    assert result.exit_code != 0
    assert "judges its own episodes" in result.output
