"""`act-tool bench` where only the core install exists (no torch, no onnx, no lerobot), engines
that cannot run or fail to build, --plot without matplotlib, a real port, and the CLI itself."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from act_tool.bench import inference, suite
from act_tool.bench.suite import BenchOptions, run_bench
from act_tool.errors import BuilderError, MissingDependencyError
from act_tool.runtime.runners import compat
from act_tool.spec import EngineSpec, sha256_file, spec_path

HEAVY = ("torch", "onnx", "lerobot", "matplotlib")


@pytest.fixture
def robot_computer(monkeypatch, tmp_path):
    """This process and the bench's workers cannot import torch, onnx, lerobot or matplotlib."""
    blocked = tmp_path / "blocked"
    for name in HEAVY:
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(f"raise ImportError('{name}: blocked')\n")
    monkeypatch.setenv("PYTHONPATH", str(blocked))  # the worker subprocesses
    for name in list(sys.modules):
        if name.split(".")[0] in HEAVY:
            monkeypatch.delitem(sys.modules, name)
    for name in HEAVY:
        monkeypatch.setitem(sys.modules, name, None)  # `import name` raises ImportError here


def test_bench_runs_on_a_robot_computer(robot_computer, bench_onnx: Path, tmp_path: Path):
    result = run_bench(
        BenchOptions(onnx=bench_onnx, repeats=3, warmup=1, observations=2, stages=False),
        log=lambda _m: None,
    )
    data = result.data
    rows = {r["name"]: r for r in data["inference"]}
    assert rows["onnxruntime cpu"]["status"] == "ok", rows["onnxruntime cpu"]
    assert not [r for r in data["inference"] if r["status"] == "failed"]
    # FLOPs from the spec (counted at export), the CPU peak measured without onnx; both say how.
    assert data["flops_per_inference"] > 1e8
    assert data["flops_note"] == "counted at export (spec)"
    assert data["peak_flops"]["cpu_fp32"] > 0 and "matrix product" in data["peak_notes"]["cpu_fp32"]
    if not inference.cuda_available():
        assert data["peak_notes"]["cuda_fp32"] == "skipped: no CUDA GPU"
    # No LeRobot baseline: said plainly, in the table and the JSON.
    assert data["baseline"] == "onnxruntime cpu"
    assert "relative to onnxruntime cpu, not to LeRobot" in data["baseline_note"]
    assert data["baseline_note"] in result.text
    assert "lerobot eager (no --checkpoint given)" in result.text
    assert "skipped: " in result.text


def test_flops_come_from_the_spec_else_from_onnx(bench_onnx: Path, monkeypatch):
    """Export stores onnx's count in the spec; bench reads it without onnx. A spec from before
    the count: counted where onnx is installed, else no figure and how to get one."""
    pytest.importorskip("onnx")
    from act_tool.export.flops import count_flops

    spec = EngineSpec.read(spec_path(bench_onnx))
    assert spec.flops == count_flops(bench_onnx)[0] > 1e8
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert suite.count_flops(spec, bench_onnx) == (spec.flops, "counted at export (spec)")
    old = replace(spec, flops=None)
    flops, why = suite.count_flops(old, bench_onnx)
    assert flops is None and "export again" in why and "onnx is not installed" in why
    monkeypatch.delitem(sys.modules, "onnx")
    assert suite.count_flops(old, bench_onnx)[0] == spec.flops


def test_gpu_detection_needs_no_torch(monkeypatch):
    from act_tool import gpu

    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setattr(gpu, "_cc_from_driver", lambda: (8, 7))
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    assert inference.cuda_available() is True  # a Jetson with TensorRT and no torch


def test_plot_without_matplotlib_names_the_extra_before_measuring(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(inference, "cuda_available", lambda: pytest.fail("measured first"))
    opts = BenchOptions(onnx=tmp_path / "act.onnx", plot_path=tmp_path / "b.png")
    with pytest.raises(MissingDependencyError, match=r"pip install 'act-tool\[bench\]'"):
        run_bench(opts, log=lambda _m: None)


# --- engines that cannot run here, or fail to build --------------------------------------------


def fake_engine(folder: Path, precision: str, target: str = "portable") -> Path:
    """A plan file with the spec of an RTX export (never deserialized by these tests)."""
    from tests.runtime.test_compat import make_plan

    folder.mkdir(parents=True, exist_ok=True)
    plan, spec = make_plan(folder, target=target)
    spec = replace(spec, precision=precision, sha256=sha256_file(plan))
    spec.write(spec_path(plan))
    return plan


def rtx_facts(cc) -> compat.MachineFacts:
    return compat.MachineFacts({"tensorrt-rtx": "1.7.1.116", "tensorrt": ""}, cc)


def test_rtx_engine_on_a_gpu_rtx_does_not_support_is_skipped(tmp_path):
    engines = [fake_engine(tmp_path / "a", "fp32"), fake_engine(tmp_path / "b", "fp16")]
    rows = inference.engine_candidates(engines, True, {}, rtx_facts((9, 0)))
    assert [r.name for r in rows] == ["tensorrt fp32", "tensorrt fp16"]
    for r in rows:
        assert r.skipped and "RTX-class GPUs" in r.skipped and "sm_90" in r.skipped
    rows = inference.engine_candidates(engines, True, {}, rtx_facts((8, 9)))
    assert [r.skipped for r in rows] == ["", ""] and rows[0].backend == "tensorrt"


def test_engine_without_a_spec_is_skipped_not_fatal(tmp_path):
    plan = tmp_path / "act.plan"
    plan.write_bytes(b"x")
    (row, _) = inference.engine_candidates([plan], True, {}, rtx_facts((8, 9)))
    assert "spec" in row.skipped


def test_a_failed_build_is_that_engine_s_result(monkeypatch, tmp_path, tiny_checkpoint):
    """fp16 fails to build: its row says why, fp32 is measured, the bench goes on."""
    from act_tool import gpu
    from act_tool.export import pipeline

    def fake_export(opts, log):
        if opts.fp16:
            raise BuilderError("TensorRT (tensorrt-rtx) failed to build\nTensorRT log: ...")
        return fake_engine(opts.output, "fp32")

    monkeypatch.setattr(pipeline, "run_export", fake_export)
    monkeypatch.setattr(gpu, "installed_builders", lambda: ["tensorrt-rtx"])
    monkeypatch.setattr(compat, "probe_machine", lambda: rtx_facts((8, 9)))
    opts = BenchOptions(checkpoint=tiny_checkpoint, onnx=tmp_path / "act.onnx")
    onnx, engines, notes = suite.prepare_artifacts(opts, tmp_path, True, lambda _m: None)
    assert [e.parent.name for e in engines] == ["trt_fp32"]
    assert notes == {"fp16": "tensorrt-rtx build failed: TensorRT (tensorrt-rtx) failed to build"}
    rows = inference.engine_candidates(engines, True, notes, rtx_facts((8, 9)))
    assert rows[0].backend == "tensorrt" and rows[1].skipped == notes["fp16"]


def test_no_engine_is_built_for_a_gpu_the_builder_cannot_serve(monkeypatch, tmp_path):
    from act_tool import gpu
    from act_tool.export import pipeline

    monkeypatch.setattr(pipeline, "run_export", lambda *a, **k: pytest.fail("built"))
    monkeypatch.setattr(gpu, "installed_builders", lambda: ["tensorrt-rtx"])
    monkeypatch.setattr(compat, "probe_machine", lambda: rtx_facts((9, 0)))
    opts = BenchOptions(checkpoint=tmp_path, onnx=tmp_path / "act.onnx")
    _, engines, notes = suite.prepare_artifacts(opts, tmp_path, True, lambda _m: None)
    assert engines == [] and "tensorrt-rtx: TensorRT-RTX runs on RTX-class GPUs" in notes["fp16"]


# --- a real arm: dry run unless --move ---------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "move", "dry"),
    [("/dev/ttyACM0", False, True), ("/dev/ttyACM0", True, False), ("emulated", False, False)],
)
def test_control_tick_on_a_real_port_is_a_dry_run_unless_move(monkeypatch, port, move, dry):
    from act_tool.runtime import session

    seen = {}

    def fake_run(opts, log):
        seen["opts"] = opts
        raise RuntimeError("stop here")

    monkeypatch.setattr(session, "run", fake_run)
    opts = BenchOptions(
        onnx=Path("act.onnx"), port=port, move=move, calibration=Path("arm.json"), robot_id="a1"
    )
    tick = suite.measure_stages(opts, Path("act.onnx"), lambda _m: None)
    assert tick == {"status": "failed", "reason": "RuntimeError: stop here"}
    run_opts = seen["opts"]
    assert run_opts.loop.dry_run is dry
    assert (run_opts.arm.calibration, run_opts.arm.robot_id) == (Path("arm.json"), "a1")


# --- the command line --------------------------------------------------------------------------


def test_cli_bench_on_an_onnx_model(bench_onnx: Path, tmp_path: Path):
    from act_tool.cli import app

    out = tmp_path / "bench.json"
    args = ["bench", "--onnx", str(bench_onnx), "--repeats", "3", "--warmup", "1"]
    result = CliRunner().invoke(app, [*args, "--seconds", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert {r["name"]: r["status"] for r in data["inference"]}["onnxruntime cpu"] == "ok"
    assert data["control_tick"]["status"] == "ok" and data["control_tick"]["ticks"] > 5
    assert "Inference per action chunk" in result.output and "Control tick on" in result.output
    assert f"figures: {out}" in result.output
    assert "relative to onnxruntime cpu" in result.output


def test_demo_falls_back_to_onnx_when_the_engine_cannot_run(monkeypatch, tmp_path, capsys):
    import importlib.util

    path = Path(__file__).parents[2] / "scripts" / "demo.py"
    spec = importlib.util.spec_from_file_location("demo_script", path)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    assert demo.loop_artifact(tmp_path).name == "act.onnx"
    assert "no TensorRT engine was built" in capsys.readouterr().out
    plan = fake_engine(tmp_path, "fp16")
    monkeypatch.setattr(compat, "probe_machine", lambda: rtx_facts((9, 0)))
    assert demo.loop_artifact(tmp_path).name == "act.onnx"
    assert "not act.plan: " in capsys.readouterr().out
    monkeypatch.setattr(compat, "probe_machine", lambda: rtx_facts((8, 9)))
    assert demo.loop_artifact(tmp_path) == plan
