"""Floating-point operations of one inference, counted from the ONNX graph.

Conventions (stated so a count by hand can match): a multiply-add is 2 FLOPs. Conv:
2 * N * Cout * Hout * Wout * (Cin / groups) * kH * kW, plus N * Cout * Hout * Wout for a bias.
MatMul: 2 * (batch) * M * K * N. Gemm: 2 * M * K * N plus M * N for C. Elementwise arithmetic
and activations: one FLOP per output element. Softmax: 3 per element (exp, sum, divide);
LayerNormalization: 8 per element (mean, centre, square, variance, rsqrt, scale, shift);
MaxPool/AveragePool: one per window element. Data movement (Transpose, Reshape, Concat, Cast,
Split, Gather) is 0.
"""

from __future__ import annotations

from collections import Counter
from math import prod
from pathlib import Path

ELEMENTWISE = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Relu",
        "Sigmoid",
        "Tanh",
        "Erf",
        "Exp",
        "Log",
        "Sqrt",
        "Pow",
        "Neg",
        "Abs",
        "Max",
        "Min",
        "Clip",
        "Where",
        "LeakyRelu",
        "Gelu",
    }
)
PER_ELEMENT = {"Softmax": 3, "LayerNormalization": 8}


def _shapes(model) -> dict[str, tuple[int, ...]]:
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    shapes = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = tuple(d.dim_value for d in dims)
    for init in g.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return a.i if a.type == a.INT else list(a.ints)
    return default


def node_flops(node, shapes: dict[str, tuple[int, ...]]) -> int:
    out = shapes.get(node.output[0]) if node.output else None
    op = node.op_type
    if op == "Conv":
        w = shapes[node.input[1]]  # [Cout, Cin/groups, kH, kW]
        flops = 2 * prod(out) * prod(w[1:])
        if len(node.input) > 2 and node.input[2]:
            flops += prod(out)
        return flops
    if op == "MatMul":
        a = shapes[node.input[0]]
        return 2 * prod(out) * a[-1]
    if op == "Gemm":
        a = shapes[node.input[0]]
        k = a[0] if _attr(node, "transA", 0) else a[1]
        flops = 2 * prod(out) * k
        if len(node.input) > 2 and node.input[2]:
            flops += prod(out)
        return flops
    if out is None:
        return 0
    if op in ELEMENTWISE:
        return prod(out)
    if op in PER_ELEMENT:
        return PER_ELEMENT[op] * prod(out)
    if op in ("MaxPool", "AveragePool"):
        return prod(out) * prod(_attr(node, "kernel_shape", [1]))
    return 0


def count_flops(onnx_path: Path) -> tuple[int, Counter]:
    """Total FLOPs of one run of the graph and the split by op type."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    shapes = _shapes(model)
    by_op: Counter = Counter()
    for node in model.graph.node:
        by_op[node.op_type] += node_flops(node, shapes)
    return sum(by_op.values()), by_op
