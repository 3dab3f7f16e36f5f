"""Just enough of the ONNX file format, without the `onnx` package (a robot computer has only
ONNX Runtime): read the nodes of a model (op type, name, integer attributes) and write the one-node
MatMul model of the peak measurement.

ONNX files are protocol buffers (onnx/onnx.proto). Field numbers used here:
ModelProto: ir_version 1, graph 7, opset_import 8. GraphProto: node 1, name 2, initializer 5,
input 11, output 12. TensorProto: dims 1, name 8. NodeProto: input 1, output 2, name 3, op_type 4, attribute 5. AttributeProto: name 1,
i 3, ints 8. OperatorSetIdProto: domain 1, version 2. ValueInfoProto: name 1, type 2.
TypeProto: tensor_type 1. TypeProto.Tensor: elem_type 1, shape 2. TensorShapeProto: dim 1.
Dimension: dim_value 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

VARINT, I64, LEN, I32 = 0, 1, 2, 5
FLOAT = 1  # TensorProto.FLOAT


@dataclass
class Node:
    op_type: str
    name: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    ints: dict[str, int | list[int]] = field(default_factory=dict)  # integer attributes only


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of each field: ints for VARINT/I64/I32, bytes for LEN."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = _varint(buf, pos)
        elif wire == LEN:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        elif wire == I64:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == I32:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"not an ONNX file (protobuf wire type {wire} at byte {pos})")
        yield number, wire, value


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _attribute(buf: memoryview) -> tuple[str, int | list[int] | None]:
    name, value, ints = "", None, []
    for number, wire, v in fields(buf):
        if number == 1 and wire == LEN:
            name = bytes(v).decode()
        elif number == 3 and wire == VARINT:
            value = _signed(v)
        elif number == 8 and wire == VARINT:
            ints.append(_signed(v))
        elif number == 8 and wire == LEN:  # packed
            pos, data = 0, v
            while pos < len(data):
                x, pos = _varint(data, pos)
                ints.append(_signed(x))
    return name, (ints if ints else value)


def _node(buf: memoryview) -> Node:
    node = Node("")
    for number, wire, v in fields(buf):
        if wire != LEN:
            continue
        if number == 1:
            node.inputs.append(bytes(v).decode())
        elif number == 2:
            node.outputs.append(bytes(v).decode())
        elif number == 3:
            node.name = bytes(v).decode()
        elif number == 4:
            node.op_type = bytes(v).decode()
        elif number == 5:
            name, value = _attribute(v)
            if value is not None:
                node.ints[name] = value
    return node


def _tensor_dims(buf: memoryview) -> tuple[str, tuple[int, ...]]:
    name, dims = "", []
    for number, wire, v in fields(buf):  # the data fields are skipped as slices, not copied
        if number == 8 and wire == LEN:
            name = bytes(v).decode()
        elif number == 1 and wire == VARINT:
            dims.append(_signed(v))
        elif number == 1 and wire == LEN:  # packed
            pos = 0
            while pos < len(v):
                x, pos = _varint(v, pos)
                dims.append(_signed(x))
    return name, tuple(dims)


def read_graph(path: Path) -> tuple[list[Node], dict[str, tuple[int, ...]]]:
    """The main graph's nodes in file order, and the shape of each initializer (weights)."""
    data = memoryview(Path(path).read_bytes())
    for number, wire, value in fields(data):
        if number == 7 and wire == LEN:
            nodes, shapes = [], {}
            for n, w, v in fields(value):
                if n == 1 and w == LEN:
                    nodes.append(_node(v))
                elif n == 5 and w == LEN:
                    name, dims = _tensor_dims(v)
                    shapes[name] = dims
            return nodes, shapes
    raise ValueError(f"{path}: no graph found; is it an ONNX model?")


# --- writing -------------------------------------------------------------------------------------


def _key(number: int, wire: int) -> bytes:
    return _enc_varint(number << 3 | wire)


def _enc_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _int(number: int, v: int) -> bytes:
    return _key(number, VARINT) + _enc_varint(v)


def _bytes(number: int, payload: bytes) -> bytes:
    return _key(number, LEN) + _enc_varint(len(payload)) + payload


def _str(number: int, s: str) -> bytes:
    return _bytes(number, s.encode())


def _float_tensor(name: str, shape: tuple[int, ...]) -> bytes:
    dims = b"".join(_bytes(1, _int(1, d)) for d in shape)
    tensor_type = _int(1, FLOAT) + _bytes(2, dims)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


def matmul_model(n: int, opset: int = 18, ir_version: int = 8) -> bytes:
    """A serialized ONNX model: c = a @ b, all float32 [n, n]."""
    node = _str(1, "a") + _str(1, "b") + _str(2, "c") + _str(4, "MatMul")
    graph = (
        _bytes(1, node)
        + _str(2, "peak")
        + _bytes(11, _float_tensor("a", (n, n)))
        + _bytes(11, _float_tensor("b", (n, n)))
        + _bytes(12, _float_tensor("c", (n, n)))
    )
    opset_id = _str(1, "") + _int(2, opset)
    return _int(1, ir_version) + _bytes(7, graph) + _bytes(8, opset_id)
