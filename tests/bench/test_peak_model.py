"""The one-node MatMul model the CPU peak runs in ONNX Runtime (act_tool/bench/matmul.onnx):
shipped with the package, since a robot computer has ONNX Runtime but not the onnx package that
writes it. It must be exactly what onnx writes here; `python -m tests.bench.test_peak_model`
rewrites it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from act_tool.bench import machine
from tests.tolerances import matmul_bound


def peak_model():
    """c = a @ b, float32, any sizes ([m, k] @ [k, n]), opset 18, IR version 8."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("MatMul", ["a", "b"], ["c"])
    graph = helper.make_graph(
        [node],
        "peak",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["m", "k"]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["k", "n"]),
        ],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["m", "n"])],
    )
    opset = [helper.make_opsetid("", 18)]
    model = helper.make_model(graph, opset_imports=opset, producer_name="act-tool")
    model.ir_version = 8  # loads in ONNX Runtime releases older than this onnx
    onnx.checker.check_model(model, full_check=True)
    return model


def test_shipped_model_is_what_onnx_writes():
    pytest.importorskip("onnx")
    shipped = machine.PEAK_MODEL.read_bytes()
    assert shipped == peak_model().SerializeToString(), (
        "rewrite it: python -m tests.bench.test_peak_model"
    )


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
    Path(machine.PEAK_MODEL).write_bytes(peak_model().SerializeToString())
    print(f"wrote {machine.PEAK_MODEL}")
