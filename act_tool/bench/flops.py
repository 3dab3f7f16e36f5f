"""Floating-point operations of one inference, counted from the ONNX graph.

Conventions (stated so a count by hand can match): a multiply-add is 2 FLOPs. Conv:
2 * N * Cout * Hout * Wout * (Cin / groups) * kH * kW, plus N * Cout * Hout * Wout for a bias.
MatMul: 2 * (batch) * M * K * N. Gemm: 2 * M * K * N plus M * N for C. Elementwise arithmetic
and activations: one FLOP per output element. Softmax: 3 per element (exp, sum, divide);
LayerNormalization: 8 per element (mean, centre, square, variance, rsqrt, scale, shift);
MaxPool/AveragePool: one per window element. Data movement (Transpose, Reshape, Concat, Cast,
Split, Gather) is 0.

Two ways to the shapes, same count: with the `onnx` package, its shape inference; without it (a
robot computer has only ONNX Runtime), one profiled run of the graph in ONNX Runtime with graph
optimizations off, whose profile records every node's input and output shapes, and the node
attributes read from the file by act_tool.bench.onnx_wire.
"""

from __future__ import annotations

import json
import os
import tempfile
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
    """Total FLOPs of one run of the graph and the split by op type: with the onnx package when
    it is installed, else through ONNX Runtime (count_flops_ort)."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        return count_flops_ort(onnx_path)
    return count_flops_onnx(onnx_path)


def count_flops_onnx(onnx_path: Path) -> tuple[int, Counter]:
    """The count with onnx's shape inference."""
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


def _zeros(arg) -> object:
    import numpy as np

    dtypes = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(int64)": np.int64}
    if arg.type not in dtypes or not all(isinstance(d, int) for d in arg.shape):
        raise ValueError(f"input {arg.name}: {arg.type} {arg.shape} is not a fixed-shape tensor")
    return np.zeros(arg.shape, dtype=dtypes[arg.type])


def _shape(entry: dict) -> Shape:
    (dims,) = entry.values()  # {"float": [1, 3, 224, 224]}
    return tuple(int(d) for d in dims)


def count_flops_ort(onnx_path: Path) -> tuple[int, Counter]:
    """The count without the onnx package: one run of the unoptimized graph in ONNX Runtime with
    profiling on gives each node's output shapes; weights' shapes and attributes come from the
    file (onnx_wire)."""
    import onnxruntime as ort

    from act_tool.bench.onnx_wire import read_graph

    nodes, shapes = read_graph(onnx_path)
    with tempfile.TemporaryDirectory(prefix="act-flops-") as tmp:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "profile")
        so.log_severity_level = 3
        session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        feeds = {arg.name: _zeros(arg) for arg in session.get_inputs()}
        session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    shapes.update({name: x.shape for name, x in feeds.items()})
    # The profile's input lists leave out prepacked weights, so only its output shapes are used.
    by_name: dict[str, list[Shape]] = {}
    by_index: dict[int, tuple[str, list[Shape]]] = {}  # unnamed nodes: ONNX Runtime names them
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            args = e["args"]
            outs = [_shape(x) for x in args.get("output_type_shape", [])]
            by_name.setdefault(e["name"].removesuffix("_kernel_time"), outs)
            if "node_index" in args:
                by_index.setdefault(int(args["node_index"]), (args.get("op_name", ""), outs))
    for i, node in enumerate(nodes):
        outs = by_name.get(node.name) if node.name else None
        if outs is None and i in by_index and by_index[i][0] == node.op_type:
            outs = by_index[i][1]
        for name, shape in zip(node.outputs, outs or [], strict=False):
            shapes[name] = shape
    by_op: Counter = Counter()
    for node in nodes:
        inputs = [shapes.get(x, ()) if x else None for x in node.inputs]
        out = shapes.get(node.outputs[0]) if node.outputs else None
        by_op[node.op_type] += op_flops(node.op_type, node.ints, inputs, out)
    return sum(by_op.values()), by_op
