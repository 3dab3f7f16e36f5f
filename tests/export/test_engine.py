"""Tests for the TensorRT engine builder (act_tool.export.engine).

TensorRT-RTX builds for real here (it needs no GPU). Enterprise TensorRT tests skip where the
module or a GPU is missing. Models are made in the tests with onnx.helper.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from act_tool import gpu
from act_tool.errors import BuilderError
from act_tool.export import engine
from act_tool.export.engine import BuildInfo, build_engine, resolve_builder

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

D = 16


def _model(fp16: bool) -> onnx.ModelProto:
    """uint8 [1,4,D] -> Cast -> Div 255 -> MatMul -> LayerNormalization -> Softmax -> float32.

    The FP16 variant casts to FP16 around the MatMul (FP16 weights), keeping LayerNorm and Softmax
    in FP32, as act-tool's FP16 ONNX does: strongly typed FP16 inside, FP32 at the edges.
    """
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((D, D)).astype(np.float16 if fp16 else np.float32)
    nodes = [
        helper.make_node("Cast", ["x"], ["x_f"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["x_f", "c255"], ["x_n"]),
    ]
    cur = "x_n"
    if fp16:
        nodes.append(helper.make_node("Cast", [cur], ["x_h"], to=TensorProto.FLOAT16))
        cur = "x_h"
    nodes.append(helper.make_node("MatMul", [cur, "w"], ["mm"], name="matmul"))
    cur = "mm"
    if fp16:
        nodes.append(helper.make_node("Cast", [cur], ["mm_f"], to=TensorProto.FLOAT))
        cur = "mm_f"
    nodes += [
        helper.make_node("LayerNormalization", [cur, "gamma", "beta"], ["ln"], axis=-1),
        helper.make_node("Softmax", ["ln"], ["y"], axis=-1),
    ]
    inits = [
        numpy_helper.from_array(np.array(255.0, np.float32), "c255"),
        numpy_helper.from_array(weight, "w"),
        numpy_helper.from_array(np.ones(D, np.float32), "gamma"),
        numpy_helper.from_array(np.zeros(D, np.float32), "beta"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 4, D])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, D])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("onnx")
    paths = {}
    for name, fp16 in (("fp32", False), ("fp16", True)):
        paths[name] = folder / f"tiny.{name}.onnx"
        onnx.save(_model(fp16), paths[name])
    broken = _model(False)
    broken.graph.node[2].op_type = "NoSuchOp"
    paths["broken"] = folder / "broken.onnx"
    onnx.save(broken, paths["broken"])
    return paths


needs_rtx = pytest.mark.skipif(
    "tensorrt-rtx" not in gpu.installed_builders(),
    reason="tensorrt_rtx is not installed (pip install 'act-tool[rtx]')",
)
needs_enterprise = pytest.mark.skipif(
    "tensorrt" not in gpu.installed_builders() or gpu.compute_capability() is None,
    reason="enterprise TensorRT and a CUDA GPU are needed to build with it",
)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- TensorRT-RTX, for real ---------------------------------------------------------------------


@needs_rtx
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_rtx_builds_portable_plan(models: dict[str, Path], tmp_path: Path, precision: str) -> None:
    plan = tmp_path / "out" / f"act.{precision}.plan"
    info = build_engine(models[precision], plan, "tensorrt-rtx", workspace_mb=64)

    assert isinstance(info, BuildInfo)
    assert info.builder == "tensorrt-rtx"
    assert info.target == "portable"
    assert info.version.count(".") >= 2
    assert plan.is_file() and plan.stat().st_size == info.plan_bytes > 1000
    assert info.build_seconds > 0
    assert all(isinstance(w, str) for w in info.warnings)
    assert _leftovers(plan.parent) == []  # no temporary file left beside the plan


@needs_rtx
def test_rtx_plan_deserializes_where_a_gpu_exists(models: dict[str, Path], tmp_path: Path) -> None:
    import tensorrt_rtx as trt

    plan = tmp_path / "act.plan"
    build_engine(models["fp16"], plan, "tensorrt-rtx")
    if gpu.compute_capability() is None:
        # Checked here: without a GPU, Runtime.deserialize_cuda_engine returns None (cudaError 35,
        # "CUDA driver version is insufficient") and get_engine_validity aborts reading the GPU's
        # properties; TensorRT-RTX only builds without a GPU, it cannot load a plan.
        pytest.skip("deserializing a TensorRT-RTX plan needs a CUDA GPU; none here")
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    cuda_engine = runtime.deserialize_cuda_engine(plan.read_bytes())
    assert cuda_engine is not None
    names = {cuda_engine.get_tensor_name(i) for i in range(cuda_engine.num_io_tensors)}
    assert names == {"x", "y"}


@needs_rtx
def test_rtx_explicit_compute_capabilities(models: dict[str, Path], tmp_path: Path) -> None:
    plan = tmp_path / "ampere_ada.plan"
    info = build_engine(models["fp32"], plan, "tensorrt-rtx", compute_capabilities=["sm_86", "8.9"])
    assert info.target == "sm_86,sm_89"
    assert plan.stat().st_size > 0


@needs_rtx
def test_rtx_turing_builds_fp16(models: dict[str, Path], tmp_path: Path) -> None:
    info = build_engine(
        models["fp16"], tmp_path / "turing.plan", "tensorrt-rtx", compute_capabilities=["sm_75"]
    )
    assert info.target == "sm_75"


@needs_rtx
def test_build_failure_surfaces_the_builder_log(models: dict[str, Path], tmp_path: Path) -> None:
    # Turing has no FP32 GEMM in TensorRT-RTX: the builder itself refuses, after parsing.
    with pytest.raises(BuilderError) as info:
        build_engine(
            models["fp32"], tmp_path / "t.plan", "tensorrt-rtx", compute_capabilities=["sm_75"]
        )
    message = str(info.value)
    assert "failed to build" in message
    assert "FP32 GEMM is not supported" in message
    assert list(tmp_path.iterdir()) == []


@needs_rtx
def test_logger_is_shared_so_every_build_is_heard(models: dict[str, Path], tmp_path: Path) -> None:
    import tensorrt_rtx as trt

    assert gpu.shared_logger(trt) is gpu.shared_logger(trt)
    for i in range(2):  # a second build in the same process still reports its own parse errors
        with pytest.raises(BuilderError, match="NoSuchOp"):
            build_engine(models["broken"], tmp_path / f"{i}.plan", "tensorrt-rtx")


@needs_rtx
def test_rtx_unknown_compute_capability(models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(BuilderError, match="sm_42.*knows: .*sm_86"):
        build_engine(
            models["fp32"], tmp_path / "x.plan", "tensorrt-rtx", compute_capabilities=["sm_42"]
        )
    assert list(tmp_path.iterdir()) == []


@needs_rtx
def test_broken_onnx_names_the_node_and_leaves_no_file(
    models: dict[str, Path], tmp_path: Path
) -> None:
    plan = tmp_path / "broken.plan"
    with pytest.raises(BuilderError) as info:
        build_engine(models["broken"], plan, "tensorrt-rtx")
    message = str(info.value)
    assert "could not parse" in message
    assert "NoSuchOp" in message and "node 2" in message
    assert list(tmp_path.iterdir()) == []


@needs_rtx
def test_garbage_file_is_a_parse_error(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"not an onnx")  # not even a protobuf
    with pytest.raises(BuilderError, match="MODEL_DESERIALIZE_FAILED"):
        build_engine(bad, tmp_path / "g.plan", "tensorrt-rtx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.onnx"]


def test_missing_onnx_file(tmp_path: Path) -> None:
    with pytest.raises(BuilderError, match="ONNX file not found"):
        build_engine(tmp_path / "nope.onnx", tmp_path / "nope.plan", "tensorrt-rtx")


def test_onnx_builder_builds_nothing(tmp_path: Path) -> None:
    with pytest.raises(BuilderError, match="builds no engine"):
        build_engine(tmp_path / "a.onnx", tmp_path / "a.plan", "onnx")


def test_failed_write_leaves_no_partial_plan(tmp_path: Path) -> None:
    class Exploding:
        def __buffer__(self, flags: int) -> memoryview:
            raise RuntimeError("disk on fire")

    plan = tmp_path / "act.plan"
    with pytest.raises(RuntimeError, match="disk on fire"):
        engine._write_atomically(plan, Exploding())
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_an_old_plan_whole(tmp_path: Path) -> None:
    plan = tmp_path / "act.plan"
    plan.write_bytes(b"old")
    assert engine._write_atomically(plan, b"new plan bytes") == 14
    assert plan.read_bytes() == b"new plan bytes"
    assert list(tmp_path.iterdir()) == [plan]
    ordinary = tmp_path / "ordinary"
    ordinary.write_bytes(b"")
    assert plan.stat().st_mode == ordinary.stat().st_mode  # not mkstemp's 0600


# --- builder resolution (import probing monkeypatched) ------------------------------------------


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch):
    """Pretend a given set of modules is installed and a GPU is (or is not) present."""

    def setup(modules: set[str], cc: tuple[int, int] | None) -> None:
        monkeypatch.setattr(gpu, "module_installed", lambda m: m in modules)
        monkeypatch.setattr(gpu, "compute_capability", lambda: cc)

    return setup


def test_resolve_none_prefers_enterprise_with_gpu(installed) -> None:
    installed({"tensorrt", "tensorrt_rtx"}, (8, 9))
    assert resolve_builder(None) == "tensorrt"


def test_resolve_none_falls_back_to_rtx_without_gpu(installed) -> None:
    installed({"tensorrt", "tensorrt_rtx"}, None)
    assert resolve_builder(None) == "tensorrt-rtx"
    installed({"tensorrt_rtx"}, (8, 9))
    assert resolve_builder(None) == "tensorrt-rtx"


def test_resolve_none_with_nothing_installed(installed) -> None:
    installed(set(), None)
    with pytest.raises(BuilderError, match=r"act-tool\[rtx\].*--builder onnx"):
        resolve_builder(None)


def test_resolve_onnx_passes_through(installed) -> None:
    installed(set(), None)
    assert resolve_builder("onnx") == "onnx"


def test_resolve_missing_rtx_says_what_to_install(installed) -> None:
    installed(set(), None)
    with pytest.raises(BuilderError, match=r"pip install 'act-tool\[rtx\]'.*--builder onnx"):
        resolve_builder("tensorrt-rtx")


def test_resolve_missing_enterprise_suggests_rtx(installed) -> None:
    installed({"tensorrt_rtx"}, None)
    with pytest.raises(BuilderError) as info:
        resolve_builder("tensorrt")
    assert "act-tool[tensorrt]" in str(info.value) and "pypi.nvidia.com" in str(info.value)
    assert "--builder tensorrt-rtx" in str(info.value)


def test_resolve_enterprise_without_gpu(installed) -> None:
    installed({"tensorrt"}, None)
    with pytest.raises(BuilderError, match="no GPU.*--builder tensorrt-rtx.*--builder onnx"):
        resolve_builder("tensorrt")
    with pytest.raises(BuilderError, match="no GPU"):
        resolve_builder(None)


def test_resolve_enterprise_with_gpu(installed) -> None:
    installed({"tensorrt"}, (8, 7))
    assert resolve_builder("tensorrt") == "tensorrt"


def test_resolve_unknown_name(installed) -> None:
    installed({"tensorrt_rtx"}, None)
    with pytest.raises(BuilderError, match="Unknown builder 'trt'.*tensorrt-rtx"):
        resolve_builder("trt")


def test_network_flags_with_and_without_strongly_typed() -> None:
    class WithFlag:
        class NetworkDefinitionCreationFlag:
            STRONGLY_TYPED = 5

    class Without:  # TensorRT 11: strongly typed always, no flag
        class NetworkDefinitionCreationFlag:
            pass

    assert engine._network_flags(WithFlag) == 1 << 5
    assert engine._network_flags(Without) == 0


# --- enterprise TensorRT, where present -----------------------------------------------------------


@needs_enterprise
@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_enterprise_builds_for_this_gpu(
    models: dict[str, Path], tmp_path: Path, precision: str
) -> None:
    plan = tmp_path / "act.plan"
    info = build_engine(models[precision], plan, "tensorrt")
    major, minor = gpu.compute_capability() or (0, 0)
    assert info.builder == "tensorrt"
    assert info.target == f"sm_{major}{minor}"
    assert plan.stat().st_size == info.plan_bytes > 0
    assert _leftovers(tmp_path) == []
