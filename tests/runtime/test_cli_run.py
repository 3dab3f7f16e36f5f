"""`act-tool run` end to end on the virtual arm with synthetic cameras."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from act_tool.cli import app


def test_run_emulated(tiny_onnx: Path, tmp_path: Path):
    log = tmp_path / "run.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--engine",
            str(tiny_onnx),
            "--port",
            "emulated",
            "--duration",
            "2",
            "--log",
            str(log),
            "--max-relative-target",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "virtual SO-101" in result.output
    assert "p99 ms" in result.output and "duration reached" in result.output
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert 55 <= len(rows) <= 61  # 2 s at the spec's 30 Hz
    assert rows[0]["inferred"]


def test_run_async_dry_run(tiny_onnx: Path):
    result = CliRunner().invoke(
        app,
        ["run", "--engine", str(tiny_onnx), "--port", "emulated", "--duration", "0.5", "--dry-run"]
        + ["--async", "--cameras", "front=synthetic,handeye=synthetic:7"],
    )
    assert result.exit_code == 0, result.output
    assert "dry run, no writes" in result.output
    assert "asynchronous chunks" in result.output


def test_run_needs_calibration_for_a_real_port(tiny_onnx: Path):
    result = CliRunner().invoke(app, ["run", "--engine", str(tiny_onnx), "--port", "/dev/ttyACM0"])
    assert result.exit_code == 1
    assert "--robot-id" in result.output


def test_run_bad_cameras(tiny_onnx: Path):
    result = CliRunner().invoke(
        app,
        ["run", "--engine", str(tiny_onnx), "--port", "emulated", "--cameras", "front=synthetic"],
    )
    assert result.exit_code == 1
    assert "handeye" in result.output and "Torque" not in result.output
