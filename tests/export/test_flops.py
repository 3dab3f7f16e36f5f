"""FLOP counting from the ONNX graph, checked against a count done by hand."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from act_tool.export.flops import count_flops  # noqa: E402


def test_tiny_graph_matches_hand_count(tmp_path):
    # x [1,3,8,8] -> Conv(4 out, 3x3, pad 1, bias) -> Relu -> Reshape [1,4,64] -> Transpose [1,64,4]
    # -> MatMul W[4,5] -> Add b[5] -> Softmax -> LayerNormalization -> y [1,64,5]
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "cw"),
        numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "cb"),
        numpy_helper.from_array(np.array([1, 4, 64], dtype=np.int64), "shape"),
        numpy_helper.from_array(rng.standard_normal((4, 5)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "b"),
        numpy_helper.from_array(np.ones(5, dtype=np.float32), "g"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "cw", "cb"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["s"]),
        helper.make_node("Transpose", ["s"], ["t"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["t", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["a"]),
        helper.make_node("Softmax", ["a"], ["sm"], axis=-1),
        helper.make_node("LayerNormalization", ["sm", "g"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64, 5])],
        inits,
    )
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))

    conv = 2 * (4 * 8 * 8) * (3 * 3 * 3) + 4 * 8 * 8  # 2 * out elements * (Cin*kH*kW) + bias
    relu = 4 * 8 * 8
    matmul = 2 * 64 * 4 * 5  # 2 * M * K * N
    add = 64 * 5
    softmax = 3 * 64 * 5
    layernorm = 8 * 64 * 5
    total, by_op = count_flops(path)
    assert by_op["Conv"] == conv == 14080
    assert by_op["MatMul"] == matmul
    assert by_op["Transpose"] == 0 and by_op["Reshape"] == 0
    assert total == conv + relu + matmul + add + softmax + layernorm == 20736


def test_gemm_and_pool_attributes(tmp_path):
    """Gemm with transA and a bias, MaxPool's kernel: the count reads the nodes' attributes."""
    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(rng.standard_normal((7, 3)).astype(np.float32), "a"),  # [K, M]
        numpy_helper.from_array(rng.standard_normal((7, 5)).astype(np.float32), "b"),
        numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "c"),
    ]
    nodes = [
        helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[3, 2], strides=[1, 1]),
        helper.make_node("Gemm", ["a", "b", "c"], ["g"], transA=1),
        helper.make_node("Relu", ["g"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "attrs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
        [
            helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 2, 4, 5]),
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 5]),
        ],
        inits,
    )
    path = tmp_path / "attrs.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    pool = (1 * 2 * 4 * 5) * (3 * 2)
    gemm = 2 * 3 * 7 * 5 + 3 * 5  # 2 * M * K * N + bias
    total, by_op = count_flops(path)
    assert (by_op["MaxPool"], by_op["Gemm"], total) == (pool, gemm, pool + gemm + 15)
