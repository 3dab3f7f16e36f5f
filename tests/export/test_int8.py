"""`act-tool export --int8`: static QDQ INT8 calibrated on dataset frames the parity gate does not
check, its gate against LeRobot, its spec and check file; a degenerate calibration (constant
frames) fails the gate and writes nothing; --int8 without --dataset is a usage error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lerobot")
onnx = pytest.importorskip("onnx")

from act_tool.errors import ActToolError, ParityError  # noqa: E402
from act_tool.export import int8  # noqa: E402
from act_tool.export.pipeline import FP16_BOUND, INT8_BOUND, ExportOptions, run_export  # noqa: E402
from act_tool.spec import FORMAT_VERSION, EngineSpec, sha256_file, spec_path  # noqa: E402
from tests.conftest import write_tiny_dataset  # noqa: E402

# 32 frames: the parity gate checks 16 (ExportOptions.n_dataset), calibration takes the other 16.
EPISODES, FRAMES = 2, 16


@pytest.fixture(scope="module")
def calib_dataset(tmp_path_factory) -> Path:
    return write_tiny_dataset(
        tmp_path_factory.mktemp("calib") / "tiny32", episodes=EPISODES, frames=FRAMES
    )


@pytest.fixture(scope="module")
def int8_export(tiny_checkpoint, calib_dataset, tmp_path_factory):
    """--int8 together with --fp16: (folder, result, log)."""
    out = tmp_path_factory.mktemp("int8")
    logs: list[str] = []
    opts = ExportOptions(
        tiny_checkpoint, out, fp16=True, int8=True, builder="onnx", dataset=calib_dataset
    )
    return out, run_export(opts, log=logs.append), "\n".join(logs)


def test_int8_and_fp16_artifacts_with_specs_and_checks(int8_export, calib_dataset):
    out, result, log = int8_export
    assert {p.name for p in result.artifacts} == {"act.onnx", "act.fp16.onnx", "act.int8.onnx"}
    spec = EngineSpec.read(spec_path(out / "act.int8.onnx"))
    assert (spec.precision, spec.builder, spec.format_version) == ("int8", "onnx", FORMAT_VERSION)
    assert spec.sha256 == sha256_file(out / "act.int8.onnx")
    assert spec.calibration["dataset"] == str(calib_dataset.resolve())
    assert (spec.calibration["frames"], spec.calibration["episodes"]) == (16, EPISODES)
    assert EngineSpec.read(out / "act.onnx.json").calibration == {}
    assert (out / spec.check_file).is_file() and spec.check_sha256
    assert "INT8 calibration: 16 frames of 2 episodes" in log


def test_int8_passes_its_gate_with_real_quantization_error(int8_export, calib_dataset):
    out, result, log = int8_export
    reports = result.reports["int8"]
    assert set(reports) == {"random", str(calib_dataset)}
    for report in reports.values():
        # Above FP16's rounding (so INT8 is really computed), within the INT8 bound.
        assert report["passed"] and FP16_BOUND / 10 < report["worst_rel"] <= INT8_BOUND
    assert "INT8 ONNX vs LeRobot" in log
    assert EngineSpec.read(out / "act.int8.onnx.json").parity["int8_onnx"] == reports


def test_calibration_frames_are_not_the_parity_frames():
    from act_tool.export.parity import parity_indices

    checked = parity_indices(32, 16)
    chosen = int8.calibration_indices(32, checked, 32)
    assert len(chosen) == 16 and not set(chosen) & set(checked)
    checked = parity_indices(100, 16)
    chosen = int8.calibration_indices(100, checked, 8)
    assert len(chosen) == 8 and not set(chosen) & set(checked)
    free = [i for i in range(100) if i not in set(checked)]
    # spread evenly over the free frames: the first and the last, gaps of about len(free) / 7
    positions = [free.index(i) for i in chosen]
    assert positions[0] == 0 and positions[-1] == len(free) - 1
    assert min(np.diff(positions)) >= len(free) // 8 - 1


def test_int8_graph_is_qdq_with_fp32_islands(int8_export):
    out, *_ = int8_export
    graph = onnx.load(str(out / "act.int8.onnx")).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("QuantizeLinear") > 10 and ops.count("DequantizeLinear") > 10
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)

    def quantized(node) -> bool:
        """In QDQ form a node runs in INT8 when an input comes from a DequantizeLinear."""
        return any(
            getattr(producer.get(x), "op_type", "") == "DequantizeLinear" for x in node.input
        )

    islands = [n for n in graph.node if n.op_type in ("LayerNormalization", "Softmax")]
    assert islands and not any(quantized(n) for n in islands)
    heavy = [n for n in graph.node if n.op_type in int8.QUANTIZED_OPS]
    by_stage = {int8.stage_of(n) for n in heavy if quantized(n)}
    assert by_stage == {"backbone", "image_proj", "encoder"}
    for n in heavy:
        if int8.stage_of(n) in ("state_proj", "decoder", "action_head"):
            assert not quantized(n), n.name
    # Inputs and output keep their types (uint8 frames, float32 state and action).
    types = {i.name: i.type.tensor_type.elem_type for i in graph.input}
    assert types["observation.images.front"] == onnx.TensorProto.UINT8
    assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_int8_runs_in_onnxruntime_and_passes_its_self_check(int8_export):
    from act_tool.runtime.runners import open_runner
    from act_tool.runtime.self_check import run_self_check

    out, *_ = int8_export
    lines: list[str] = []
    with open_runner(out / "act.int8.onnx") as runner:
        assert runner.backend == "onnxruntime"
        result = run_self_check(runner, lines.append)
    assert result is not None and result.passed and result.bound == INT8_BOUND
    assert "INT8" in lines[-1] and "PASS" in lines[-1]


def test_int8_runs_in_openvino_and_passes_its_self_check(int8_export):
    """The other CPU runtime reads the same QDQ graph (its decoder and head stay FP32)."""
    pytest.importorskip("openvino")
    from act_tool.runtime.runners import open_runner
    from act_tool.runtime.self_check import run_self_check

    out, *_ = int8_export
    lines: list[str] = []
    with open_runner(out / "act.int8.onnx", "openvino") as runner:
        result = run_self_check(runner, lines.append)
    assert result is not None and result.passed and result.bound == INT8_BOUND
    assert "openvino" in lines[-1].lower() and "PASS" in lines[-1]


def write_constant_dataset(root: Path) -> Path:
    """The tiny dataset's layout and states, every frame one flat gray: a calibration that sees
    no image structure."""
    import cv2

    real = cv2.resize

    def flat(src, size, interpolation=None):
        return np.full((size[1], size[0], 3), 128, np.uint8)

    cv2.resize = flat
    try:
        return write_tiny_dataset(root, episodes=EPISODES, frames=FRAMES)
    finally:
        cv2.resize = real


def test_constant_calibration_fails_the_gate_and_writes_nothing(tiny_checkpoint, tmp_path):
    data = write_constant_dataset(tmp_path / "flat")
    out = tmp_path / "out"
    opts = ExportOptions(tiny_checkpoint, out, int8=True, builder="onnx", dataset=data)
    with pytest.raises(ParityError, match="INT8 ONNX export differs") as err:
        run_export(opts, log=lambda _: None)
    assert "FAIL" in err.value.report
    assert list(out.iterdir()) == []


def test_too_small_a_dataset_for_calibration_is_refused(tiny_checkpoint, tiny_dataset, tmp_path):
    # The shared tiny dataset has 16 frames: the parity gate checks them all.
    with pytest.raises(ActToolError, match="calibration needs at least"):
        run_export(
            ExportOptions(
                tiny_checkpoint, tmp_path, int8=True, builder="onnx", dataset=tiny_dataset
            ),
            log=lambda _: None,
        )
    assert list(tmp_path.iterdir()) == []


def test_int8_without_dataset_is_a_usage_error(tiny_checkpoint):
    from typer.testing import CliRunner

    from act_tool.cli import app

    with pytest.raises(ActToolError, match="random frames calibrate nothing"):
        ExportOptions(tiny_checkpoint, int8=True)
    result = CliRunner().invoke(app, ["export", str(tiny_checkpoint), "--int8"])
    assert result.exit_code == 2  # click's usage error
    assert "--dataset" in result.output and "calibrate nothing" in result.output


def test_no_engine_is_built_from_the_int8_model(int8_export):
    from act_tool.export.engine_from_onnx import build_plan_from_onnx

    out, *_ = int8_export
    with pytest.raises(ActToolError, match="builds no TensorRT engine from it"):
        build_plan_from_onnx(out / "act.int8.onnx", out / "x.plan", "tensorrt-rtx")
    assert not (out / "x.plan").exists()


def test_bench_measures_the_int8_artifact_beside_act_onnx_against_the_int8_peak(int8_export):
    """`bench --onnx act.onnx` finds act.int8.onnx beside it: rows on ONNX Runtime and OpenVINO
    (where installed), their share of the machine's measured INT8 peak."""
    import importlib.util

    from act_tool.bench.suite import BenchOptions, run_bench

    out, _, _ = int8_export
    result = run_bench(
        BenchOptions(onnx=out / "act.onnx", repeats=3, warmup=1, observations=2, stages=False),
        log=lambda _m: None,
    )
    rows = {r["name"]: r for r in result.data["inference"]}
    peak = result.data["peak_flops"]["cpu_int8"]
    assert peak > 0
    ort_int8 = rows["onnxruntime cpu int8"]
    assert ort_int8["status"] == "ok" and ort_int8["precision"] == "int8"
    assert ort_int8["fraction_of_peak"] == pytest.approx(ort_int8["achieved_gflops"] * 1e9 / peak)
    ov = rows["openvino cpu int8"]
    assert ov["status"] == ("ok" if importlib.util.find_spec("openvino") else "skipped")
    assert "cpu_int8" in result.text


def test_bench_says_why_there_is_no_int8_row(tmp_path):
    from act_tool.bench import inference

    rows = {c.name: c for c in inference.candidates(None, tmp_path / "act.onnx", [], gpu=False)}
    for name in ("onnxruntime cpu int8", "openvino cpu int8"):
        assert "export --int8 --dataset" in rows[name].skipped


def test_bench_rows_name_the_given_artifacts_own_precision(int8_export):
    """`bench --onnx act.int8.onnx`: its rows say int8 (read from its spec), and the same file is
    not measured a second time as 'the INT8 artifact beside it'."""
    from act_tool.bench import inference

    out, _, _ = int8_export
    rows = inference.candidates(None, out / "act.int8.onnx", [], gpu=False)
    measured = [c for c in rows if not c.skipped and c.backend != "lerobot"]
    assert {c.name: c.precision for c in measured if c.backend == "onnxruntime"} == {
        "onnxruntime cpu int8": "int8"
    }
    assert all(c.precision == "int8" for c in rows if "int8" in c.name)
    assert sum(c.name == "onnxruntime cpu int8" for c in rows) == 1
    fp32 = {
        c.name: c.precision for c in inference.candidates(None, out / "act.onnx", [], gpu=False)
    }
    assert fp32["onnxruntime cpu"] == "fp32" and fp32["onnxruntime cpu int8"] == "int8"
