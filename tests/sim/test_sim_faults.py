"""`act-tool run --port sim` rehearsing bus faults on the digital twin's servo bus."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.sim import helpers

pytest.importorskip("mujoco", reason=helpers.NO_SIM)

from act_tool.cli import app  # noqa: E402
from tests.sim.test_realtime import gl  # noqa: E402, F401 (the fixture)


@pytest.mark.usefixtures("gl")
def test_a_servo_unplugged_on_the_twin_stops_the_run_by_name(tiny_onnx):
    result = CliRunner().invoke(
        app,
        ["run", "--engine", str(tiny_onnx), "--port", "sim", "--duration", "4", "--force"]
        + ["--unplug-servo", "6", "--unplug-after", "0.5"],
    )
    assert result.exit_code == 1, result.output
    assert "simulated SO-101" in result.output
    assert "servo 6 (gripper) did not answer in any of them" in result.output


def test_squeezing_is_the_emulator_s_not_the_twin_s(tiny_onnx):
    result = CliRunner().invoke(
        app, ["run", "--engine", str(tiny_onnx), "--port", "sim", "--squeeze-servo", "6"]
    )
    assert result.exit_code == 1 and "drop --squeeze-servo with --port sim" in result.output
