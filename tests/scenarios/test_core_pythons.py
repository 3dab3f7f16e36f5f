"""The core install on a robot computer's Python: 3.10 (Jetson, JetPack 6) and 3.13 (Raspberry Pi
OS Trixie), in venvs with only the core dependencies (no torch, no LeRobot, no onnx), made by
`make core-venvs` (part of `make test`). Each imports the core, drives the virtual arm with an
exported tiny ONNX, benchmarks it, and refuses `export` with the Python that LeRobot needs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from act_tool.doctor.software import INFERENCE_TITLE, VERSIONS_TITLE

ROOT = Path(__file__).parents[2]
VERSIONS = ("3.10", "3.13")


def core_venv(version: str) -> Path:
    """The core venv's bin folder, or a skip that says why it is absent."""
    bin_dir = ROOT / f".venv-core-{version}" / "bin"
    if (bin_dir.parent / ".installed").exists():
        return bin_dir
    found = subprocess.run(
        ["sh", str(ROOT / "scripts" / "find-python-version.sh"), version],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        pytest.skip(f"no Python {version} on this machine: {found.stderr.strip()}")
    pytest.skip(f"Python {version} is here but its core venv is not: run `make core-venvs`")


def run(bin_dir: Path, *args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(params=VERSIONS, ids=[f"py{v}" for v in VERSIONS])
def core(request) -> tuple[str, Path]:
    return request.param, core_venv(request.param)


def test_core_imports_without_torch_or_lerobot(core, tmp_path):
    version, bin_dir = core
    code = (
        "import sys, importlib.util as u\n"
        "import act_tool.cli, act_tool.runtime.session, act_tool.hw, act_tool.bench.suite\n"
        "print(sys.version_info[:2], [m for m in ('torch', 'lerobot', 'onnx') if u.find_spec(m)])"
    )
    out = run(bin_dir, "python", "-c", code, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    major, minor = map(int, version.split("."))
    assert out.stdout.strip() == f"({major}, {minor}) []"


def test_run_on_the_virtual_arm(core, bench_onnx, tmp_path):
    _, bin_dir = core
    log = tmp_path / "run.jsonl"
    args = ["--port", "emulated", "--duration", "1", "--rt-priority", "0", "--log", str(log)]
    out = run(bin_dir, "act-tool", "run", "--engine", str(bench_onnx), *args, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "self-check: act.onnx" in out.stdout and "-> PASS" in out.stdout
    assert "stopped: duration reached" in out.stdout
    ticks = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(ticks) >= 10  # 1 s at 30 Hz, less what a loaded machine skipped


def test_bench_onnx(core, bench_onnx, tmp_path):
    _, bin_dir = core
    figures = tmp_path / "bench.json"
    args = ["--repeats", "3", "--warmup", "1", "--seconds", "1", "--json", str(figures)]
    out = run(bin_dir, "act-tool", "bench", "--onnx", str(bench_onnx), *args, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads(figures.read_text())
    rows = {r["name"]: r for r in data["inference"]}
    assert rows["onnxruntime cpu"]["status"] == "ok", rows["onnxruntime cpu"]
    assert data["control_tick"]["status"] == "ok"
    assert data["flops_note"] == "counted at export (spec)"


def test_export_names_what_it_needs(core, tiny_checkpoint, tmp_path):
    version, bin_dir = core
    out = run(bin_dir, "act-tool", "export", str(tiny_checkpoint), "-o", "x", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    if tuple(map(int, version.split("."))) < (3, 12):
        assert "needs Python >= 3.12; this is Python 3.10" in out.stderr
    else:
        assert "pip install 'act-tool[export]'" in out.stderr
    assert not (tmp_path / "x").exists()


def test_doctor(core, tmp_path):
    version, bin_dir = core
    out = run(bin_dir, "act-tool", "doctor", "--no-twin", "--json", "d.json", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    sections = {
        s["title"]: s["items"] for s in json.loads((tmp_path / "d.json").read_text())["sections"]
    }
    python = sections["Python and act-tool extras"]
    assert python[0]["label"] == "Python" and python[0]["detail"].startswith(version + ".")
    export = next(i for i in python if i["label"] == "[export]")
    assert export["status"] == "absent"
    if version == "3.10":
        assert "needs Python >= 3.12" in export["detail"]
    (onnxruntime,) = (i for i in sections[INFERENCE_TITLE] if i["label"] == "ONNX Runtime")
    assert onnxruntime["status"] == "ok" and "CPU" in onnxruntime["detail"]
    (listed,) = (i for i in sections[VERSIONS_TITLE] if i["label"] == "ONNX Runtime")
    assert onnxruntime["detail"].startswith(listed["detail"] + ":")  # the version, then providers
