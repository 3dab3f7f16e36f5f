"""Largest magnitude of every float tensor of an ONNX model over a set of observations.

FP16 tops out at 65504. A backbone trained from scratch (no ImageNet weights, frozen batch norm
left at identity) easily reaches 1e5 in its last stages and in the first attention layer, so
which ops may run in FP16 is decided from measured values, not from op types alone (the same
rule as NVIDIA ModelOpt AutoCast's data_max). Each float tensor gets an Abs -> ReduceMax branch
as an extra scalar output, so ONNX Runtime can still free the intermediates as it goes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


def activation_ranges(onnx_path: Path, feeds: Iterable[dict[str, np.ndarray]]) -> dict[str, float]:
    """tensor name -> max |value| over all `feeds` (inf when a tensor is not finite)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    model = onnx.load(str(onnx_path))
    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model).graph
    floats = {
        vi.name
        for vi in list(inferred.value_info) + list(inferred.output)
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT
    }
    watched = [out for node in graph.node for out in node.output if out in floats]
    for name in watched:
        graph.node.extend(
            [
                helper.make_node("Abs", [name], [f"{name}__abs"]),
                helper.make_node("ReduceMax", [f"{name}__abs"], [f"{name}__absmax"], keepdims=0),
            ]
        )
        graph.output.append(helper.make_tensor_value_info(f"{name}__absmax", TensorProto.FLOAT, []))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(
        model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
    )
    names = [f"{n}__absmax" for n in watched]
    ranges = dict.fromkeys(watched, 0.0)
    for feed in feeds:
        for name, value in zip(watched, session.run(names, feed), strict=True):
            v = float(value)
            ranges[name] = max(ranges[name], v) if np.isfinite(v) else float("inf")
    return ranges
