"""`act-tool run --port emulated` rehearsing faults: a lossy bus ridden through and reported, an
unplugged servo stopping the run by name with torque off, and the fault options' usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from act_tool.cli import app


def run(engine: Path, *args: str):
    return CliRunner().invoke(app, ["run", "--engine", str(engine), "--port", "emulated", *args])


def test_a_lossy_bus_is_ridden_through_and_every_fault_reported(tiny_onnx: Path, tmp_path: Path):
    log = tmp_path / "run.jsonl"
    # a generous budget: the virtual arm is a process of this (shared, loaded) machine, whose
    # answers are late whenever it is not scheduled
    result = run(
        tiny_onnx, "--duration", "3", "--log", str(log), "--max-missed-state", "500ms",
        "--lost-replies", "0.02", "--corrupt-replies", "0.01", "--fault-seed", "5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "duration reached" in result.output
    assert "bus faults" in result.output and "corrupt" in result.output
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert rows[-1]["faults"] > 0 and "held" in rows[0]


def test_an_unplugged_servo_stops_the_run_by_name_with_torque_off(tiny_onnx: Path):
    result = run(tiny_onnx, "--duration", "5", "--unplug-servo", "6", "--unplug-after", "1")
    assert result.exit_code == 1
    assert "servo 6 (gripper) did not answer in any of them" in result.output
    assert "could not reach servo 6 (gripper)" in result.output
    assert "Torque is off on every servo that answered" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-missed-state", "0"], "--max-missed-state"),
        (["--max-missed-state", "-100ms"], "--max-missed-state"),
        (["--max-missed-state", "soon"], "--max-missed-state"),
        (["--on-stop", "fly"], "--on-stop"),
        (["--lost-replies", "1.5"], "rate of lost replies"),
        (["--lost-replies", "0.6", "--corrupt-replies", "0.6"], "add up to more"),
        (["--unplug-servo", "9"], "servo ids are 1 to 6"),
        (["--late-by", "0"], "late replies"),
        (["--faults-from", "later"], "faults from"),
    ],
)
def test_bad_fault_options_are_usage_errors(tiny_onnx: Path, args, message):
    result = run(tiny_onnx, *args)
    assert result.exit_code == 1 and message in result.output, result.output
    assert "virtual SO-101 on" not in result.output  # refused before anything started


def test_fault_options_need_a_virtual_arm(tiny_onnx: Path):
    result = CliRunner().invoke(
        app,
        ["run", "--engine", str(tiny_onnx), "--port", "/dev/ttyACM0", "--robot-id", "a",
         "--lost-replies", "0.01"],
    )  # fmt: skip
    assert result.exit_code == 1 and "rehearse faults on a virtual arm" in result.output
