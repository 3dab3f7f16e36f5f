"""Floating-point operations of one inference, counted from the ONNX graph at export (where the
`onnx` package is installed) and stored in the spec, so `act-tool bench` on a robot computer
(ONNX Runtime, no onnx) reports FLOP/s without counting.

Conventions (stated so a count by hand can match): a multiply-add is 2 FLOPs. Conv:
2 * N * Cout * Hout * Wout * (Cin / groups) * kH * kW, plus N * Cout * Hout * Wout for a bias.
MatMul: 2 * (batch) * M * K * N. Gemm: 2 * M * K * N plus M * N for C. Elementwise arithmetic
and activations: one FLOP per output element. Softmax: 3 per element (exp, sum, divide);
LayerNormalization: 8 per element (mean, centre, square, variance, rsqrt, scale, shift);
MaxPool/AveragePool: one per window element. Data movement (Transpose, Reshape, Concat, Cast,
Split, Gather) is 0.

Shapes come from onnx's shape inference; weights' shapes from the initializers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from math import prod
from pathlib import Path

Shape = tuple[int, ...]

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


def op_flops(op: str, attrs: dict, inputs: Sequence[Shape | None], out: Shape | None) -> int:
    """FLOPs of one node from its op type, integer attributes and shapes (see the module doc).
    Raises ValueError where a compute op's shapes are unknown (rather than undercount)."""
    if op in ("Conv", "MatMul", "Gemm") and (out is None or not all(inputs[:2])):
        raise ValueError(f"{op}: shapes unknown (inputs {list(inputs)}, output {out})")
    if op == "Conv":
        w = inputs[1]  # [Cout, Cin/groups, kH, kW]
        flops = 2 * prod(out) * prod(w[1:])
        if len(inputs) > 2 and inputs[2] is not None:
            flops += prod(out)
        return flops
    if op == "MatMul":
        return 2 * prod(out) * inputs[0][-1]
    if op == "Gemm":
        a = inputs[0]
        k = a[0] if attrs.get("transA", 0) else a[1]
        flops = 2 * prod(out) * k
        if len(inputs) > 2 and inputs[2] is not None:
            flops += prod(out)
        return flops
    if out is None:
        return 0
    if op in ELEMENTWISE:
        return prod(out)
    if op in PER_ELEMENT:
        return PER_ELEMENT[op] * prod(out)
    if op in ("MaxPool", "AveragePool"):
        return prod(out) * prod(attrs.get("kernel_shape", [1]))
    return 0


def count_flops(onnx_path: Path) -> tuple[int, Counter]:
    """Total FLOPs of one run of the graph and the split by op type (needs the onnx package)."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    g = onnx.shape_inference.infer_shapes(model).graph
    shapes: dict[str, Shape] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = tuple(d.dim_value for d in dims)
    for init in g.initializer:
        shapes[init.name] = tuple(init.dims)
    by_op: Counter = Counter()
    for node in model.graph.node:
        attrs = {
            a.name: (a.i if a.type == a.INT else list(a.ints))
            for a in node.attribute
            if a.type in (a.INT, a.INTS)
        }
        inputs = [shapes.get(x, ()) if x else None for x in node.input]
        out = shapes.get(node.output[0]) if node.output else None
        by_op[node.op_type] += op_flops(node.op_type, attrs, inputs, out)
    return sum(by_op.values()), by_op
