"""FP16 conversion keeps ops whose measured values overflow FP16 in FP32."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("lerobot")
ort = pytest.importorskip("onnxruntime")

from act_tool.export.activation_ranges import activation_ranges  # noqa: E402
from act_tool.export.fp16 import DATA_MAX, convert_to_fp16  # noqa: E402
from act_tool.export.pipeline import ExportOptions, run_export  # noqa: E402
from act_tool.spec import EngineSpec, spec_path  # noqa: E402
from tests.tolerances import FP32_BOUND, network_bound  # noqa: E402


@pytest.fixture(scope="module")
def loud_checkpoint(tiny_checkpoint, tmp_path_factory):
    """The tiny checkpoint with the backbone's last batch norm scaled up 1e5x and the image
    projection scaled down to match: layer4 reaches values FP16 cannot hold (as a backbone trained
    from scratch does), while what the transformer sees stays ordinary."""
    from safetensors.torch import load_file, save_file

    ck = tmp_path_factory.mktemp("loud") / "pretrained_model"
    shutil.copytree(tiny_checkpoint, ck)
    tensors = load_file(str(ck / "model.safetensors"))
    for name in ("weight", "bias"):
        tensors[f"model.backbone.layer4.1.bn2.{name}"] *= 1e5
    tensors["model.encoder_img_feat_input_proj.weight"] /= 1e5
    save_file(tensors, str(ck / "model.safetensors"))
    return ck


def test_measured_ranges_keep_overflowing_ops_in_fp32(loud_checkpoint, tmp_path):
    result = run_export(
        ExportOptions(loud_checkpoint, tmp_path, fp16=True, builder="onnx"), log=lambda _m: None
    )
    spec = EngineSpec.read(tmp_path / "act.fp16.onnx.json")
    assert spec.parity["fp16_conversion"]["fp32_by_range"] > 0
    assert result.reports["fp16"]["random"]["passed"]

    # On a GPU an FP16 tensor above 65504 is inf. (ONNX Runtime on a CPU runs FP16 convolutions
    # through FP32 casts and would hide it, so check the tensor types instead.)
    rng = np.random.default_rng(0)
    feeds = {
        "observation.images.front": rng.integers(0, 256, (1, 64, 96, 3), dtype=np.uint8),
        "observation.images.handeye": rng.integers(0, 256, (1, 64, 96, 3), dtype=np.uint8),
        "observation.state": rng.normal(0, 20, (1, 6)).astype(np.float32),
    }
    ranges = activation_ranges(tmp_path / "act.onnx", [feeds])
    assert max(ranges.values()) > 65504
    naive = tmp_path / "naive.onnx"
    convert_to_fp16(tmp_path / "act.onnx", naive)
    assert fp16_tensors_above(naive, ranges, 65504), "the naive pass should overflow here"
    assert not fp16_tensors_above(tmp_path / "act.fp16.onnx", ranges, DATA_MAX)


def fp16_tensors_above(model_path, ranges, limit) -> list[str]:
    import onnx

    graph = onnx.shape_inference.infer_shapes(onnx.load(str(model_path))).graph
    return [
        vi.name
        for vi in graph.value_info
        if vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
        and ranges.get(vi.name, 0.0) > limit
    ]


def test_ranges_match_a_direct_computation(tiny_checkpoint, tmp_path):
    run_export(ExportOptions(tiny_checkpoint, tmp_path, builder="onnx"), log=lambda _m: None)
    rng = np.random.default_rng(1)
    feeds = {
        "observation.images.front": rng.integers(0, 256, (1, 64, 96, 3), dtype=np.uint8),
        "observation.images.handeye": rng.integers(0, 256, (1, 64, 96, 3), dtype=np.uint8),
        "observation.state": rng.normal(0, 20, (1, 6)).astype(np.float32),
    }
    ranges = activation_ranges(tmp_path / "act.onnx", [feeds])
    action = ort.InferenceSession(str(tmp_path / "act.onnx")).run(None, feeds)[0]
    # The ranges' graph exposes every value as an output, so ONNX Runtime fuses less of it: other
    # kernels, each run within the FP32 parity bound of LeRobot.
    std = EngineSpec.read(spec_path(tmp_path / "act.onnx")).action_std
    bound = float(network_bound(std, FP32_BOUND, FP32_BOUND).max())
    assert abs(ranges["action"] - float(np.abs(action).max())) <= bound
