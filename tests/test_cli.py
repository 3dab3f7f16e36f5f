"""The command line: instant help, no heavy imports at start-up, clear errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from act_tool.cli import app


def test_help_lists_commands():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "export" in result.output


def test_cli_import_stays_light():
    code = "import sys, act_tool.cli; heavy = [m for m in ('torch', 'lerobot', 'onnx', 'tensorrt_rtx') if m in sys.modules]; print(heavy)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_export_missing_checkpoint_is_a_clear_error(tmp_path):
    pytest.importorskip("lerobot")
    result = CliRunner().invoke(
        app, ["export", str(tmp_path / "nope"), "--builder", "onnx", "-o", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "no such file or directory" in result.output
    assert "Traceback" not in result.output


def test_export_cli_end_to_end(tiny_checkpoint, tmp_path):
    result = CliRunner().invoke(
        app, ["export", str(tiny_checkpoint), "--builder", "onnx", "-o", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert "FP32 ONNX vs LeRobot" in result.output and "PASS" in result.output
    assert (tmp_path / "out" / "act.onnx").exists() and (
        tmp_path / "out" / "act.onnx.json"
    ).exists()


def test_bench_without_anything_to_measure():
    result = CliRunner().invoke(app, ["bench"])
    assert result.exit_code == 1
    assert "--checkpoint, --onnx or --engine" in result.output
