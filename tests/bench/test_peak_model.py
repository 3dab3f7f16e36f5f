"""The one-node MatMul models the CPU peaks run in ONNX Runtime (act_tool/bench/matmul.onnx for
FP32, matmul_int8.onnx for INT8): shipped with the package, since a robot computer has ONNX
Runtime but not the onnx package that writes them. Each must be exactly what onnx writes here;
`python -m tests.bench.test_peak_model` rewrites them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from act_tool.bench import machine
from tests.tolerances import matmul_bound


def matmul_model(op: str, name: str, a: int, b: int, c: int):
    """c = op(a, b) for [m, k] x [k, n] of the given element types, opset 18, IR version 8."""
    import onnx
    from onnx import helper

    node = helper.make_node(op, ["a", "b"], ["c"])
    graph = helper.make_graph(
        [node],
        name,
        [
            helper.make_tensor_value_info("a", a, ["m", "k"]),
            helper.make_tensor_value_info("b", b, ["k", "n"]),
        ],
        [helper.make_tensor_value_info("c", c, ["m", "n"])],
    )
    opset = [helper.make_opsetid("", 18)]
    model = helper.make_model(graph, opset_imports=opset, producer_name="act-tool")
    model.ir_version = 8  # loads in ONNX Runtime releases older than this onnx
    onnx.checker.check_model(model, full_check=True)
    return model


def peak_model():
    """c = a @ b, float32, any sizes."""
    from onnx import TensorProto as T

    return matmul_model("MatMul", "peak", T.FLOAT, T.FLOAT, T.FLOAT)


def peak_int8_model():
    """c = a @ b, uint8 x int8 -> int32 (MatMulInteger, zero points 0)."""
    from onnx import TensorProto as T

    return matmul_model("MatMulInteger", "peak_int8", T.UINT8, T.INT8, T.INT32)


@pytest.mark.parametrize(
    "path, build", [(machine.PEAK_MODEL, peak_model), (machine.PEAK_INT8_MODEL, peak_int8_model)]
)
def test_shipped_model_is_what_onnx_writes(path, build):
    pytest.importorskip("onnx")
    assert path.read_bytes() == build().SerializeToString(), (
        "rewrite it: python -m tests.bench.test_peak_model"
    )


def test_shipped_int8_model_multiplies_exactly_in_onnx_runtime():
    """Integer products summed in int32: exact (|a b| <= 255 * 64, k of them, far below 2^31).
    Weights in 7 bits, as export --int8 writes them: on x86 CPUs without VNNI, MLAS multiplies
    uint8 x int8 with vpmaddubsw, whose int16 pair sums saturate at 32767 < 2 * 255 * 127, so
    full 8-bit weights would not be exact there (and are not what the artifacts hold)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(machine.PEAK_INT8_MODEL), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for m, k, n in ((16, 16, 16), (7, 300, 5), (64, 1024, 33)):
        a = rng.integers(0, 256, (m, k), dtype=np.uint8)
        b = rng.integers(-64, 64, (k, n), dtype=np.int8)
        (got,) = session.run(None, {"a": a, "b": b})
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, a.astype(np.int64) @ b.astype(np.int64))


def test_int8_peak_is_measured():
    ops, how = machine.cpu_int8_peak_ops(n=256, repeats=1)
    assert ops is not None and ops > 0 and "uint8 x int8" in how


def test_shipped_model_multiplies_in_onnx_runtime():
    """Any sizes; the result is a float32 matrix product: within the rounding bound of a dot
    product of length k (ONNX Runtime's kernel sums in its own order, numpy's BLAS in another)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(machine.PEAK_MODEL), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for m, k, n in ((16, 16, 16), (7, 300, 5)):
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        (got,) = session.run(None, {"a": a, "b": b})
        exact = a.astype(np.float64) @ b.astype(np.float64)
        assert got.shape == (m, n) and got.dtype == np.float32
        assert np.all(np.abs(got - exact) <= matmul_bound(a, b))
        assert np.all(np.abs(got - a @ b) <= 2 * matmul_bound(a, b))


if __name__ == "__main__":
    for path, build in (
        (machine.PEAK_MODEL, peak_model),
        (machine.PEAK_INT8_MODEL, peak_int8_model),
    ):
        Path(path).write_bytes(build().SerializeToString())
        print(f"wrote {path}")
