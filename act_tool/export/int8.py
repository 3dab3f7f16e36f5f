"""Static INT8 quantization (QDQ) of the checked FP32 ONNX model, calibrated on dataset frames.

ONNX Runtime's `quantize_static` inserts QuantizeLinear/DequantizeLinear pairs around the ops it
is allowed to touch; scales come from each tensor's min/max over the calibration observations
(activations uint8, per tensor; weights int8 with 7-bit range, per tensor: REDUCE_RANGE). What is
quantized was decided by measurement, one stage and one node at a time (tables in
benchmarks/results/int8_layers.md; tiny test model, worst error in action std against LeRobot on
16 random / 16 dataset observations, only that stage quantized):

- quantized: the backbone's convolutions (alone 0.094 / 0.036; no single conv above 0.084 /
  0.020), the image projection (0.047 / 0.004) and the encoder's projections and feed-forward
  products (0.038-0.067 / 0.019-0.035 per layer). Together 0.098 / 0.060. They hold the FLOPs
  (full size, 70.5 GFLOP: backbone ~63 %, encoder ~34 %);
- kept in FP32 because their error dominates: the action head (alone 0.180 / 0.092, the largest:
  its rounding lands on the actions with nothing after it) and the decoder (0.111 / 0.032, the
  second: only LayerNorms lie between it and the action head); together ~2.5 % of the FLOPs;
- kept in FP32 because quantizing saves nothing: the state projection (a 6-wide product; its
  error was small, 0.008 / 0.013) and the attention products next to Softmax
  (`_attention_products`);
- kept in FP32 as for FP16 (act_tool.export.fp16's node classification): the uint8 -> float
  input math and normalization, LayerNorm, Softmax and reductions, the action unnormalization.

Calibration frames are dataset frames distinct from the ones the parity gate checks
(`calibration_indices`), so the gate measures the artifact on frames it was not tuned on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from act_tool.errors import ActToolError

# Stages of the inference module (act_tool.policy.inference_module attribute names) whose heavy
# ops are quantized; see the module docstring for the measurement behind this choice.
QUANTIZED_STAGES = frozenset({"backbone", "image_proj", "encoder"})
QUANTIZED_OPS = ("Conv", "MatMul", "Gemm")
# 7-bit weights. x86 CPUs without VNNI (AVX2, such as this project's 2-core machine) multiply
# uint8 x int8 with vpmaddubsw, whose int16 pair sums saturate at 32767 < 2 x 255 x 127: with
# 8-bit weights the tiny model's error on dataset frames was 0.11 of the action std, with 7-bit
# weights 0.06 (rms 0.040 -> 0.011). VNNI and ARM dot products do not saturate, so 7 bits cost
# them one bit of weight resolution only: the artifact is portable, checked where it runs.
REDUCE_RANGE = True
MIN_CALIBRATION = 8  # fewer frames than this give ranges of a handful of images


def stage_of(node) -> str:
    """The inference module's submodule a node was traced from (`backbone`, `encoder`, ...),
    read from the exporter's `namespace` metadata; "" where the node carries none."""
    for prop in node.metadata_props:
        if prop.key == "namespace":
            parts = prop.value.split("/")
            return parts[1].split(":")[0].strip() if len(parts) > 1 else ""
    return ""


def nodes_to_quantize(graph) -> list[str]:
    """Names of the heavy ops of the quantized stages, minus what FP16 also keeps in FP32 and
    the attention products next to a Softmax (`_attention_products`)."""
    from act_tool.export.fp16 import _fp32_nodes

    keep = _fp32_nodes(graph) | _attention_products(graph)
    return [
        n.name
        for i, n in enumerate(graph.node)
        if n.op_type in QUANTIZED_OPS and i not in keep and stage_of(n) in QUANTIZED_STAGES
    ]


def _attention_products(graph) -> set[int]:
    """The MatMuls feeding a Softmax (Q K^T) or fed by one (weights x V). Quantized, Softmax sits
    between a DequantizeLinear and a QuantizeLinear, which ONNX Runtime fuses into an INT8
    Softmax, and its probabilities round to steps of 1/255: coarser than the mean weight 1/602
    of full-size attention over 602 tokens. They hold no weights and few of the FLOPs."""
    softmax_in = {n.input[0] for n in graph.node if n.op_type == "Softmax"}
    softmax_out = {n.output[0] for n in graph.node if n.op_type == "Softmax"}
    return {
        i
        for i, n in enumerate(graph.node)
        if n.op_type == "MatMul" and (set(n.output) & softmax_in or set(n.input) & softmax_out)
    }


def calibration_indices(n_frames: int, parity: Iterable[int], n: int) -> list[int]:
    """Up to `n` frame indices spread evenly over the frames the parity gate does not use."""
    taken = set(int(i) for i in parity)
    free = [i for i in range(n_frames) if i not in taken]
    if len(free) <= n:
        return free
    picks = np.linspace(0, len(free) - 1, num=n).round().astype(int)
    return [free[i] for i in sorted(set(picks))]


def calibration_observations(ckpt, dataset: Path, n_parity: int, n: int) -> tuple[list, dict]:
    """Up to `n` observations of `dataset` that the parity gate (which checks `n_parity` frames)
    does not use, and the calibration set's description for the spec."""
    from act_tool.export.parity import frames_at, open_dataset, parity_indices

    ds = open_dataset(ckpt, dataset)
    indices = calibration_indices(len(ds), parity_indices(len(ds), n_parity), n)
    if len(indices) < MIN_CALIBRATION:
        raise ActToolError(
            f"{dataset}: {len(ds)} frames, {min(n_parity, len(ds))} of them checked by the parity "
            f"gate; INT8 calibration needs at least {MIN_CALIBRATION} others (frames the gate "
            "does not check, so it measures the artifact on frames it was not tuned on). Use a "
            "larger dataset (act-tool dataset sim writes one)."
        )
    episodes = np.asarray(ds.hf_dataset["episode_index"])[indices]
    info = {
        "dataset": str(Path(dataset).resolve()),
        "frames": len(indices),
        "episodes": int(len(np.unique(episodes))),
        "dataset_frames": len(ds),
        "method": "minmax",
    }
    return frames_at(ckpt, ds, indices), info


class _Feeds:
    """onnxruntime.quantization's CalibrationDataReader protocol over a list of feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """The quantizer logs a pre-processing hint on the root logger for every call."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_int8(src: Path, dst: Path, feeds: list[dict[str, np.ndarray]]) -> dict[str, int]:
    """Write the QDQ INT8 version of `src` to `dst`, calibrated on `feeds` (the model's inputs,
    one dict per observation). Returns counts for the report."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if len(feeds) < MIN_CALIBRATION:
        raise ActToolError(
            f"INT8 calibration needs at least {MIN_CALIBRATION} dataset frames, got {len(feeds)}"
        )
    graph = onnx.load(str(src), load_external_data=False).graph
    chosen = nodes_to_quantize(graph)
    with _quiet_quantizer():
        quantize_static(
            str(src),
            str(dst),
            _Feeds(feeds),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTIZED_OPS),
            nodes_to_quantize=chosen,
            per_channel=False,  # measured: per-channel weights were no better here
            reduce_range=REDUCE_RANGE,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    onnx.checker.check_model(str(dst))
    ops = [n.op_type for n in onnx.load(str(dst)).graph.node]
    heavy = sum(op in QUANTIZED_OPS for op in ops)
    return {
        "int8_nodes": len(chosen),
        "fp32_heavy_nodes": heavy - len(chosen),
        "quantize_linear": ops.count("QuantizeLinear"),
        "dequantize_linear": ops.count("DequantizeLinear"),
        "calibration_observations": len(feeds),
    }
