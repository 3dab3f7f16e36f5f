"""The ONNX bytes act-tool reads and writes without the onnx package, checked against onnx."""

from __future__ import annotations

import numpy as np
import pytest

from act_tool.bench import onnx_wire


def test_matmul_model_runs_in_onnx_runtime():
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_wire.matmul_model(16), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((16, 16), dtype=np.float32) for _ in range(2))
    np.testing.assert_allclose(session.run(None, {"a": a, "b": b})[0], a @ b, rtol=1e-5)


def test_matmul_model_is_valid_onnx():
    onnx = pytest.importorskip("onnx")
    model = onnx.load_from_string(onnx_wire.matmul_model(32))
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["MatMul"]
    dims = [[d.dim_value for d in x.type.tensor_type.shape.dim] for x in model.graph.input]
    assert dims == [[32, 32], [32, 32]] and model.opset_import[0].version == 18


def test_read_graph_equals_onnx_on_an_exported_act(bench_onnx):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(bench_onnx), load_external_data=False)
    nodes, shapes = onnx_wire.read_graph(bench_onnx)
    assert len(nodes) == len(model.graph.node) > 50
    for mine, theirs in zip(nodes, model.graph.node, strict=True):
        assert (mine.op_type, mine.name) == (theirs.op_type, theirs.name)
        assert (mine.inputs, mine.outputs) == (list(theirs.input), list(theirs.output))
        for a in theirs.attribute:
            if a.type == a.INT:
                assert mine.ints[a.name] == a.i
            elif a.type == a.INTS and a.ints:
                assert mine.ints[a.name] == list(a.ints)
    assert shapes == {i.name: tuple(i.dims) for i in model.graph.initializer}


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "x.onnx"
    path.write_bytes(b"\x08\x07")  # ir_version 7, no graph
    with pytest.raises(ValueError, match="no graph"):
        onnx_wire.read_graph(path)
