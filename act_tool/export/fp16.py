"""Convert the checked FP32 ONNX model to FP16 with our own small graph pass.

Why our own pass (evidence, see REFERENCE.md): onnxconverter-common's float16 pass with
keep_io_types left a Cast whose output type no longer matched on this uint8-input graph, so
neither ONNX Runtime nor the TensorRT parser accepted the result; NVIDIA ModelOpt's AutoCast needs
calibration data for uint8 inputs and its `nvidia-modelopt[onnx]` pulls a torch and an
onnxruntime-gpu that clash with LeRobot's pins. The pass below is ~150 lines and exact about what
stays in FP32:

- the input math: everything from the graph inputs up to the first Conv/MatMul/Gemm
  (uint8 -> float, layout, /255 and normalization);
- the output math: everything from the graph outputs back through Add/Mul up to the last
  MatMul/Gemm (action head bias and unnormalization);
- ops that overflow or lose precision in FP16: LayerNormalization, Softmax and reductions;
- ops whose inputs or outputs were measured (activation_ranges.py) above DATA_MAX, or whose
  weights exceed FP16's range: a backbone trained from scratch reaches 1e5 and more.

Every other float op runs in FP16 with FP16 weights; Casts are inserted at each boundary, so the
model's inputs and outputs keep their types. TensorRT builds the result as a strongly typed
network, so these types are exactly what runs on the GPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FP32_OPS = frozenset(
    {
        "LayerNormalization",
        "Softmax",
        "LogSoftmax",
        "ReduceMean",
        "ReduceSum",
        "ReduceSumSquare",
        "ReduceL2",
        "Pow",
        "Sqrt",
        "Exp",
        "Log",
        "Erf",
    }
)
# Largest measured |value| an op may see and still run in FP16: 16x headroom under FP16's 65504
# for inputs larger than the calibration observations (ModelOpt AutoCast uses the same rule).
DATA_MAX = 4096.0
FP16_MAX = 65504.0
HEAVY_OPS = frozenset({"Conv", "MatMul", "Gemm"})
PASS_THROUGH_OUT = frozenset({"Add", "Mul", "Sub", "Div", "Reshape", "Transpose", "Identity"})


def _float_tensors(model) -> set[str]:
    """Names of all FP32 tensors (inputs, initializers, inferred intermediates, outputs)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    names = set()
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
            names.add(vi.name)
    for init in g.initializer:
        if init.data_type == onnx.TensorProto.FLOAT:
            names.add(init.name)
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.t.data_type == onnx.TensorProto.FLOAT:
                    names.update(node.output)
    return names


def _fp32_nodes(graph) -> set[int]:
    """Indices of nodes that stay in FP32 (see the module docstring)."""
    producers = {out: i for i, n in enumerate(graph.node) for out in n.output}
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(graph.node):
        for name in n.input:
            consumers.setdefault(name, []).append(i)

    keep = {i for i, n in enumerate(graph.node) if n.op_type in FP32_OPS}
    # Input math: forward from the graph inputs until the first heavy op.
    stack = [i for inp in graph.input for i in consumers.get(inp.name, [])]
    while stack:
        i = stack.pop()
        if i in keep or graph.node[i].op_type in HEAVY_OPS:
            continue
        keep.add(i)
        stack.extend(c for out in graph.node[i].output for c in consumers.get(out, []))
    # Output math: backward from the graph outputs through elementwise ops.
    stack = [producers[o.name] for o in graph.output if o.name in producers]
    while stack:
        i = stack.pop()
        node = graph.node[i]
        if i in keep or node.op_type not in PASS_THROUGH_OUT:
            continue
        keep.add(i)
        stack.extend(producers[x] for x in node.input if x in producers)
    return keep


def _out_of_range(graph, ranges: dict[str, float], inits: dict, data_max: float) -> set[int]:
    """Nodes that touch a measured value above data_max or hold a weight beyond FP16's range."""
    from onnx import numpy_helper

    big_inits = {
        name
        for name, init in inits.items()
        if init.data_type == 1 and np.abs(numpy_helper.to_array(init)).max(initial=0) > FP16_MAX
    }
    out = set()
    for i, node in enumerate(graph.node):
        names = [*node.input, *node.output]
        if any(ranges.get(n, 0.0) > data_max for n in names) or big_inits & set(node.input):
            out.add(i)
    return out


def convert_to_fp16(
    src: Path, dst: Path, ranges: dict[str, float] | None = None, data_max: float = DATA_MAX
) -> dict[str, int]:
    """Write the FP16 version of `src` to `dst`; `ranges` (tensor -> measured max |value|) keeps
    ops that would overflow in FP32. Returns counts for the report."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    floats = _float_tensors(model)
    keep = _fp32_nodes(graph)
    inits = {init.name: init for init in graph.initializer}
    by_range = _out_of_range(graph, ranges or {}, inits, data_max) - keep
    keep |= by_range
    graph_inputs = {i.name for i in graph.input}
    producers = {out: i for i, n in enumerate(graph.node) for out in n.output}

    def is_fp16(tensor: str) -> bool:
        """Will this tensor be FP16 after conversion? (produced by a converted float node)"""
        p = producers.get(tensor)
        return p is not None and p not in keep and tensor in floats

    new_nodes = []
    cast_cache: dict[tuple[str, int], str] = {}
    fp16_inits: dict[str, str] = {}
    n_cast = 0

    def cast(tensor: str, to: int) -> str:
        nonlocal n_cast
        key = (tensor, to)
        if key not in cast_cache:
            suffix = "fp16" if to == TensorProto.FLOAT16 else "fp32"
            out = f"{tensor}__{suffix}"
            new_nodes.append(helper.make_node("Cast", [tensor], [out], to=to, name=f"cast_{out}"))
            cast_cache[key] = out
            n_cast += 1
        return cast_cache[key]

    def fp16_init(name: str) -> str:
        if name not in fp16_inits:
            arr = numpy_helper.to_array(inits[name]).astype(np.float16)
            new = f"{name}__fp16"
            graph.initializer.append(numpy_helper.from_array(arr, new))
            fp16_inits[name] = new
        return fp16_inits[name]

    converted = 0
    for i, node in enumerate(graph.node):
        if i in keep:
            # FP32 node: cast any FP16 input back up.
            for j, name in enumerate(node.input):
                if is_fp16(name):
                    node.input[j] = cast(name, TensorProto.FLOAT)
            new_nodes.append(node)
            continue
        converted += 1
        for j, name in enumerate(node.input):
            if not name or name not in floats or is_fp16(name):
                continue
            if name in inits and name not in graph_inputs:
                node.input[j] = fp16_init(name)
            else:
                node.input[j] = cast(name, TensorProto.FLOAT16)
        _attributes_to_fp16(node)
        new_nodes.append(node)

    _outputs_stay_fp32(graph, new_nodes, is_fp16)
    _drop_unused_initializers(graph, new_nodes, graph_inputs)
    del graph.node[:]
    graph.node.extend(_toposort(new_nodes, graph))
    del graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    counts = {"fp16_nodes": converted, "fp32_nodes": len(keep), "fp32_by_range": len(by_range)}
    return {**counts, "casts": n_cast}


def _attributes_to_fp16(node) -> None:
    """A converted node's float attributes: a Cast to FP32 casts to FP16, constants become FP16."""
    import onnx
    from onnx import TensorProto, numpy_helper

    for a in node.attribute:
        if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
            a.i = TensorProto.FLOAT16
        if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
            a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16)))


def _outputs_stay_fp32(graph, new_nodes: list, is_fp16) -> None:
    """Graph outputs keep FP32: an output an FP16 node produces is renamed and cast back."""
    from onnx import TensorProto, helper

    for out in graph.output:
        if is_fp16(out.name):
            fp16_name = f"{out.name}__fp16out"
            for n in new_nodes:
                for j, name in enumerate(n.output):
                    if name == out.name:
                        n.output[j] = fp16_name
                for j, name in enumerate(n.input):
                    if name == out.name:
                        n.input[j] = fp16_name
            new_nodes.append(
                helper.make_node("Cast", [fp16_name], [out.name], to=TensorProto.FLOAT)
            )


def _drop_unused_initializers(graph, new_nodes: list, graph_inputs: set[str]) -> None:
    """Drop the FP32 initializers no node reads any more (their FP16 copies replaced them)."""
    used = {name for n in new_nodes for name in n.input}
    for init in list(graph.initializer):
        if init.name not in used and init.name not in graph_inputs:
            graph.initializer.remove(init)


def _toposort(nodes, graph) -> list:
    """Order nodes so every input is produced before use (inserted Casts go where needed)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(nodes)
    ordered = []
    while pending:
        progressed = False
        rest = []
        for n in pending:
            if all(x in available for x in n.input):
                ordered.append(n)
                available.update(n.output)
                progressed = True
            else:
                rest.append(n)
        if not progressed:
            raise RuntimeError(f"FP16 pass produced a cycle or dangling input at {rest[0].name}")
        pending = rest
    return ordered
