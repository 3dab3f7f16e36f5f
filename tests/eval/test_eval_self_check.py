"""`act-tool eval --sim` self-checks the engine before the twin is built: a good artifact says
its figure, one without a check file is refused unless --skip-self-check (said loudly)."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.runtime.check_file import check_path
from act_tool.spec import spec_path

ARGS = ["--sim", "--episodes", "1", "--episode-time", "0.3", "--force"]


def test_eval_self_checks_and_refuses_a_missing_check_file(eval_onnx: Path, tmp_path: Path):
    result = CliRunner().invoke(app, ["eval", str(eval_onnx), *ARGS])
    assert result.exit_code == 0, result.output
    assert "self-check: act.onnx" in result.output and "PASS" in result.output

    for src in (eval_onnx, spec_path(eval_onnx)):
        shutil.copy(src, tmp_path / src.name)
    copy = tmp_path / eval_onnx.name  # no check file beside it
    assert not check_path(copy).exists()
    result = CliRunner().invoke(app, ["eval", str(copy), *ARGS])
    assert result.exit_code == 1
    assert "act.onnx has no check file" in " ".join(result.output.split())

    result = CliRunner().invoke(app, ["eval", str(copy), *ARGS, "--skip-self-check"])
    assert result.exit_code == 0, result.output
    assert "WARNING: --skip-self-check: no check file" in " ".join(result.output.split())
