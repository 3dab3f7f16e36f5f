"""scripts/gpu-check.sh on a machine without a GPU: its arguments, its early failure, the layout
of its results, partial results when a step fails, the time budget, and that every act-tool
command it runs parses with the real command line. Fake nvidia-smi, python and act-tool
programs stand in for the GPU machine's."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from tests.docs.test_docs import parse

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu-check.sh"
GPU_LINE = "NVIDIA H100 80GB HBM3, 9.0, 580.65, 81559 MiB"
STEPS = [
    "install act-tool",
    "install tensorrt",
    "install onnxruntime-gpu",
    "versions",
    "doctor",
    "gpu tests",
    "export onnx",
    "engine tensorrt",
    "self-check tensorrt",
    "engine tensorrt-rtx",
    "self-check tensorrt-rtx",
    "bench",
    "bench tensorrt-rtx",
    "eval tensorrt fp16",
]


def _program(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture
def fake_gpu(tmp_path: Path) -> Path:
    return _program(tmp_path / "bin" / "nvidia-smi", f'echo "{GPU_LINE}"\n')


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=full, timeout=120
    )


def test_without_a_gpu_the_first_line_says_so(tmp_path):
    result = run(str(tmp_path / "out"), env={"GPU_CHECK_NVIDIA_SMI": str(tmp_path / "none")})
    assert result.returncode == 3
    first = (result.stderr + result.stdout).splitlines()[0]
    assert first.startswith("gpu-check: FAILED: no NVIDIA GPU on this machine")
    assert not (tmp_path / "out").exists()  # nothing installed, nothing written


def test_an_nvidia_smi_that_finds_no_gpu(tmp_path):
    smi = _program(tmp_path / "smi", 'echo "No devices were found"; exit 6\n')
    result = run(str(tmp_path / "out"), env={"GPU_CHECK_NVIDIA_SMI": str(smi)})
    assert result.returncode == 3
    assert "no NVIDIA GPU" in result.stderr.splitlines()[0]
    assert "No devices were found" in result.stderr


def test_arguments(tmp_path, fake_gpu):
    env = {"GPU_CHECK_NVIDIA_SMI": str(fake_gpu), "GPU_CHECK_DRY_RUN": "1"}
    missing = run(env=env)
    assert missing.returncode == 2 and "usage: scripts/gpu-check.sh OUT" in missing.stderr
    two = run("a", "b", env=env)
    assert two.returncode == 2 and "one argument expected" in two.stderr
    helped = run("--help", env=env)
    assert helped.returncode == 0 and "scripts/gpu-check.sh OUT" in helped.stderr
    used = tmp_path / "used"
    used.mkdir()
    (used / "old.json").write_text("{}")
    refused = run(str(used), env=env)
    assert refused.returncode == 2 and "not empty" in refused.stderr


def test_dry_run_layout_and_commands(tmp_path, fake_gpu):
    out = tmp_path / "out"
    env = {"GPU_CHECK_NVIDIA_SMI": str(fake_gpu), "GPU_CHECK_DRY_RUN": "1"}
    result = run(str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"gpu-check: GPU found: {GPU_LINE}"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gpu"] == GPU_LINE
    assert [s["name"] for s in summary["steps"]] == STEPS
    for folder in ("machine", "install", "tests", "engines", "bench", "eval"):
        assert (out / folder).is_dir()
    table = (out / "summary.md").read_text()
    assert table.startswith("# GPU check") and "| bench | dry run |" in table
    commands = []
    for s in summary["steps"]:
        log = out / s["log"]
        assert log.is_file(), s
        words = shlex.split(log.read_text().splitlines()[0].removeprefix("$ "))
        if Path(words[0]).name == "act-tool":
            commands.append(words[1:])
    assert len(commands) == 10
    for argv in commands:  # the options it uses exist (a renamed one fails here)
        parse(argv)


def _fake_venv(tmp_path: Path, failing: str) -> Path:
    venv = tmp_path / "venv"
    _program(venv / "bin" / "python", "exit 0\n")  # pip, pytest, the builder probe: fine
    _program(
        venv / "bin" / "act-tool",
        f'echo "act-tool $*"\nif [ "$1" = "{failing}" ]; then echo boom >&2; exit 1; fi\n'
        'if [ "$1" = engine ]; then mkdir -p "$(dirname "$6")"; touch "$6"; fi\n'
        'if [ "$1" = bench ]; then echo "backend  p50"; echo "lerobot  1.0"; fi\n',
    )
    return venv


def test_a_failed_step_leaves_the_others_results(tmp_path, fake_gpu):
    out = tmp_path / "out"
    env = {
        "GPU_CHECK_NVIDIA_SMI": str(fake_gpu),
        "GPU_CHECK_VENV": str(_fake_venv(tmp_path, failing="doctor")),
    }
    result = run(str(out), env=env)
    assert result.returncode == 1
    assert "some steps FAILED" in result.stderr
    steps = {s["name"]: s for s in json.loads((out / "summary.json").read_text())["steps"]}
    assert steps["doctor"]["status"] == "FAILED (exit 1)"
    assert "boom" in (out / "machine" / "doctor.log").read_text()
    assert steps["bench"]["status"] == "ok" and steps["eval tensorrt fp16"]["status"] == "ok"
    assert (out / "engines" / "tensorrt" / "act.plan").is_file()
    assert "## bench/bench.log" in (out / "summary.md").read_text()  # bench's own table


def test_the_budget_skips_what_no_longer_fits(tmp_path, fake_gpu):
    out = tmp_path / "out"
    env = {
        "GPU_CHECK_NVIDIA_SMI": str(fake_gpu),
        "GPU_CHECK_VENV": str(_fake_venv(tmp_path, failing="none")),
        "GPU_CHECK_BUDGET_S": "3",
    }
    result = run(str(out), env=env)
    steps = {s["name"]: s for s in json.loads((out / "summary.json").read_text())["steps"]}
    assert steps["install act-tool"]["status"] == "ok"  # the install is outside the budget
    assert steps["versions"]["status"] == "skipped: out of time"
    assert result.returncode == 1
