"""`act-tool export` end to end on tiny checkpoints: ONNX, FP16, TensorRT-RTX engine, parity on
random and dataset frames, the parity gate, and no artifact on failure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lerobot")
onnx = pytest.importorskip("onnx")

from act_tool.errors import ActToolError, CheckpointError, ParityError  # noqa: E402
from act_tool.export import pipeline  # noqa: E402
from act_tool.export.pipeline import ExportOptions, run_export  # noqa: E402
from act_tool.policy import describe  # noqa: E402
from act_tool.spec import EngineSpec, sha256_file, spec_path  # noqa: E402


def test_artifacts_and_specs_are_written(exported):
    out, result, _, builder = exported
    names = {p.name for p in result.artifacts}
    assert {"act.onnx", "act.fp16.onnx"} <= names
    for artifact in result.artifacts:
        spec = EngineSpec.read(spec_path(artifact))
        assert spec.artifact == artifact.name
        assert spec.sha256 == sha256_file(artifact)
        spec.verify_artifact(artifact)
    assert not list(out.glob(".act-export-*")), "staging folder left behind"
    assert not list(out.glob(".*tmp*"))


def test_spec_describes_the_policy(exported, tiny_checkpoint):
    out, *_ = exported
    spec = EngineSpec.read(out / "act.onnx.json")
    assert [c.key for c in spec.cameras] == [
        "observation.images.front",
        "observation.images.handeye",
    ]
    assert all((c.height, c.width, c.channel_order) == (64, 96, "bgr") for c in spec.cameras)
    assert spec.robot_type == "so101_follower"  # the dataset's meta/info.json
    assert spec.state_names[0] == "shoulder_pan.pos" and len(spec.action_names) == 6
    assert (spec.chunk_size, spec.n_action_steps, spec.fps, spec.units) == (10, 10, 30, "degrees")
    assert spec.precision == "fp32" and spec.builder == "onnx"
    assert all(lo < hi for lo, hi in zip(spec.state_min, spec.state_max, strict=True))
    assert Path(spec.source_checkpoint) == tiny_checkpoint.resolve()
    # The action range is the saved action min/max (LeRobot >= 0.4 keeps them with the
    # unnormalizer), not the state's: the run loop clamps goals to it.
    from act_tool.policy.checkpoint import load_checkpoint

    stats = load_checkpoint(tiny_checkpoint).stats["action"]
    # The saved float32 values, through float64 and JSON: exact.
    assert spec.action_min == tuple(float(x) for x in stats["min"])
    assert spec.action_max == tuple(float(x) for x in stats["max"])
    assert spec.action_min != spec.state_min


def test_feature_range_falls_back_to_mean_and_std():
    stats = {"mean": np.array([1.0, -2.0]), "std": np.array([0.5, 2.0])}
    lo, hi = describe.feature_range(stats, 2)
    k = describe.RANGE_STDS
    np.testing.assert_allclose(lo, [1.0 - 0.5 * k, -2.0 - 2.0 * k])
    np.testing.assert_allclose(hi, [1.0 + 0.5 * k, -2.0 + 2.0 * k])
    stats.update(min=np.array([0.0, -9.0]), max=np.array([3.0, 1.0]))
    lo, hi = describe.feature_range(stats, 2)
    assert lo.tolist() == [0.0, -9.0] and hi.tolist() == [3.0, 1.0]


def test_fp32_parity_on_random_and_dataset_frames(exported, tiny_dataset):
    out, result, log, _ = exported
    parity = EngineSpec.read(out / "act.onnx.json").parity["fp32_onnx"]
    assert set(parity) == {"random", str(tiny_dataset)}
    for report in parity.values():
        assert report["passed"] and report["n_observations"] >= 8
        # Not exactly zero: real computation compared.
        assert 0 < report["worst_rel"] <= pipeline.FP32_BOUND
        assert set(report["per_dim"]) == set(EngineSpec.read(out / "act.onnx.json").action_names)
    assert "FP32 ONNX vs LeRobot" in log and "max/std" in log


def test_fp16_model_keeps_io_types_and_fp32_islands(exported):
    out, result, *_ = exported
    model = onnx.load(str(out / "act.fp16.onnx"))
    T = onnx.TensorProto
    types = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    assert types["observation.images.front"] == T.UINT8
    assert types["observation.state"] == T.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == T.FLOAT
    init_types = [i.data_type for i in model.graph.initializer]
    assert init_types.count(T.FLOAT16) > 0.8 * len(init_types)
    # LayerNorm and Softmax run in FP32: their inputs and outputs are float32 tensors.
    inferred = onnx.shape_inference.infer_shapes(model).graph
    dtype = {v.name: v.type.tensor_type.elem_type for v in inferred.value_info}
    islands = [n for n in model.graph.node if n.op_type in ("LayerNormalization", "Softmax")]
    assert islands
    for node in islands:
        assert dtype[node.input[0]] == T.FLOAT and dtype[node.output[0]] == T.FLOAT, node.name
    assert any(dtype.get(n.output[0]) == T.FLOAT16 for n in model.graph.node if n.op_type == "Conv")
    fp16 = result.reports["fp16"]["random"]
    assert fp16["passed"] and 1e-6 < fp16["worst_rel"] <= pipeline.FP16_BOUND


def test_engine_built_with_tensorrt_rtx(exported):
    out, result, log, builder = exported
    if builder != "tensorrt-rtx":
        pytest.skip("tensorrt-rtx is not installed (pip install 'act-tool[rtx]')")
    plan = out / "act.plan"
    assert plan.stat().st_size > 1_000_000
    spec = EngineSpec.read(out / "act.plan.json")
    assert (spec.builder, spec.target, spec.precision) == ("tensorrt-rtx", "portable", "fp16")
    assert spec.builder_version and spec.sha256 == sha256_file(plan)
    assert "fp16_onnx" in spec.parity


def test_parity_gate_fails_and_writes_nothing(tiny_checkpoint, tmp_path, monkeypatch):
    """A module whose unnormalization is off by 0.1 % must be refused."""
    from act_tool.policy import inference_module

    real = inference_module.inverse_affine

    def skewed(mode, stats, eps):
        scale, shift = real(mode, stats, eps)
        return scale * 1.001, shift

    monkeypatch.setattr(inference_module, "inverse_affine", skewed)
    with pytest.raises(ParityError, match="differs from LeRobot") as err:
        run_export(ExportOptions(tiny_checkpoint, tmp_path, builder="onnx"), log=lambda _: None)
    assert "FAIL" in err.value.report
    assert list(tmp_path.iterdir()) == []


def test_bad_checkpoint_writes_nothing(tmp_path):
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "config.json").write_text(json.dumps({"type": "pi0"}))
    out = tmp_path / "out"
    with pytest.raises(CheckpointError, match="not 'act'"):
        run_export(ExportOptions(tmp_path / "ck", out, builder="onnx"), log=lambda _: None)
    assert not out.exists() or list(out.iterdir()) == []


def test_too_few_observations_is_refused(tiny_checkpoint):
    with pytest.raises(ActToolError, match="at least 16"):
        ExportOptions(tiny_checkpoint, n_random=4)


def test_legacy_checkpoint_exports_with_parity(legacy_checkpoint, tmp_path):
    result = run_export(
        ExportOptions(legacy_checkpoint, tmp_path, builder="onnx"), log=lambda _: None
    )
    report = result.reports["fp32"]["random"]
    assert report["passed"] and report["worst_rel"] > 0
    assert (tmp_path / "act.onnx").exists() and not (tmp_path / "act.fp16.onnx").exists()
    # LeRobot <= 0.3 kept only mean and std: the action range is mean +- RANGE_STDS * std.
    from act_tool.policy.checkpoint import load_checkpoint

    stats = load_checkpoint(legacy_checkpoint).stats["action"]
    assert "min" not in stats
    spec = EngineSpec.read(tmp_path / "act.onnx.json")
    k = describe.RANGE_STDS
    # The same float32 expression on the same values: IEEE * and - are correctly rounded, so the
    # bits are the same on every CPU.
    assert spec.action_min == tuple(float(x) for x in stats["mean"] - k * stats["std"])
    assert spec.action_max == tuple(float(x) for x in stats["mean"] + k * stats["std"])


def test_rgb_channel_order_matches_lerobot(tiny_checkpoint, tmp_path):
    """The same policy exported for RGB frames passes parity too (the feeds follow the spec)."""
    result = run_export(
        ExportOptions(tiny_checkpoint, tmp_path, builder="onnx", channel_order="rgb"),
        log=lambda _: None,
    )
    spec = EngineSpec.read(tmp_path / "act.onnx.json")
    assert spec.cameras[0].channel_order == "rgb"
    assert result.reports["fp32"]["random"]["passed"]


def test_bgr_and_rgb_exports_differ_on_the_same_bytes(exported, tmp_path, tiny_checkpoint):
    """Channel order is real: feeding identical bytes to both exports gives different actions."""
    import onnxruntime as ort

    run_export(
        ExportOptions(tiny_checkpoint, tmp_path, builder="onnx", channel_order="rgb"),
        log=lambda _: None,
    )
    out, *_ = exported
    rng = np.random.default_rng(3)
    feeds = {
        "observation.images.front": rng.integers(0, 256, (1, 64, 96, 3), dtype=np.uint8),
        "observation.images.handeye": rng.integers(0, 256, (1, 64, 96, 3), dtype=np.uint8),
        "observation.state": rng.normal(0, 20, (1, 6)).astype(np.float32),
    }
    a = ort.InferenceSession(str(out / "act.onnx")).run(None, feeds)[0]
    b = ort.InferenceSession(str(tmp_path / "act.onnx")).run(None, feeds)[0]
    assert np.abs(a - b).max() > 1e-3
