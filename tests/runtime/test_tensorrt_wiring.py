"""The TensorRT runner's memory wiring against fake `cuda.bindings.runtime` and TensorRT modules.

No GPU here: the fakes keep "device" memory in ordinary host buffers, run copies with memmove and
record work enqueued during stream capture, so the runner's own logic (page-locked buffers,
addresses set once, H2D -> execute -> D2H order, CUDA-graph capture and replay, mapped memory on
an integrated GPU) is checked for real. The real thing runs in test_runners.py on a GPU machine.
"""

from __future__ import annotations

import ctypes
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from act_tool import gpu
from act_tool.runtime.runners import ACTION, STATE, RunnerOptions, compat, open_runner
from act_tool.spec import EngineSpec, sha256_file, spec_path
from act_tool.testing.specs import make_spec

VERSION = "1.7.1.116"
NAMES = tuple(f"j{i}.pos" for i in range(6))


class FakeCudart:
    class cudaError_t:  # noqa: N801 - cuda-python's names
        cudaSuccess = 0

    class cudaDeviceAttr:  # noqa: N801
        cudaDevAttrIntegrated = 18

    class cudaMemcpyKind:  # noqa: N801
        cudaMemcpyHostToDevice = 1
        cudaMemcpyDeviceToHost = 2

    class cudaStreamCaptureMode:  # noqa: N801
        cudaStreamCaptureModeThreadLocal = 1

    cudaHostAllocDefault = 0
    cudaHostAllocMapped = 2
    cudaStreamNonBlocking = 1

    def __init__(self, integrated: bool) -> None:
        self.integrated = integrated
        self.buffers: dict[int, ctypes.Array] = {}
        self.host_flags: list[int] = []
        self.ops: list[str] = []  # what ran, in order
        self.capture: list | None = None
        self.freed = 0

    def _alloc(self, n: int) -> int:
        buf = ctypes.create_string_buffer(n)
        self.buffers[ctypes.addressof(buf)] = buf
        return ctypes.addressof(buf)

    def enqueue(self, op) -> None:
        if self.capture is not None:
            self.capture.append(op)
        else:
            self._run(op)

    def _run(self, op) -> None:
        kind, *args = op
        self.ops.append(kind)
        if kind == "exec":
            args[0]()
        else:
            ctypes.memmove(*args)

    def cudaSetDevice(self, d):  # noqa: N802
        return (0,)

    def cudaDeviceGetAttribute(self, attr, dev):  # noqa: N802
        return (0, int(self.integrated))

    def cudaStreamCreateWithFlags(self, flags):  # noqa: N802
        return (0, 77)

    def cudaHostAlloc(self, n, flags):  # noqa: N802
        self.host_flags.append(flags)
        return (0, self._alloc(n))

    def cudaHostGetDevicePointer(self, ptr, flags):  # noqa: N802
        return (0, ptr)

    def cudaMalloc(self, n):  # noqa: N802
        return (0, self._alloc(n))

    def cudaMemcpyAsync(self, dst, src, n, kind, stream):  # noqa: N802
        name = "h2d" if kind == self.cudaMemcpyKind.cudaMemcpyHostToDevice else "d2h"
        self.enqueue((name, dst, src, n))
        return (0,)

    def cudaStreamSynchronize(self, s):  # noqa: N802
        return (0,)

    def cudaStreamBeginCapture(self, s, mode):  # noqa: N802
        self.capture = []
        return (0,)

    def cudaStreamEndCapture(self, s):  # noqa: N802
        graph, self.capture = self.capture, None
        return (0, graph)

    def cudaGraphInstantiate(self, graph, flags):  # noqa: N802
        return (0, list(graph))

    def cudaGraphLaunch(self, graph_exec, s):  # noqa: N802
        self.ops.append("graph")
        for op in graph_exec:
            self._run(op)
        return (0,)

    def _free(self, *a):
        self.freed += 1
        return (0,)

    cudaFree = cudaFreeHost = cudaGraphDestroy = cudaGraphExecDestroy = _free  # noqa: N815
    cudaStreamDestroy = _free  # noqa: N815

    def cudaGetErrorName(self, e):  # noqa: N802
        return (0, b"fake")


def view(ptr: int, shape, dtype) -> np.ndarray:
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return (
        np.frombuffer((ctypes.c_uint8 * n).from_address(ptr), np.uint8).view(dtype).reshape(shape)
    )


def fake_trt(
    spec: EngineSpec,
    cudart: FakeCudart,
    engine_shapes: dict | None = None,
    dtypes: dict | None = None,
) -> types.ModuleType:
    """A TensorRT module whose engine has the spec's tensors; `engine_shapes` / `dtypes` override
    what the engine reports for some of them."""
    trt = types.ModuleType("fake_trt_for_tests")
    trt.__version__ = VERSION

    class ILogger:
        def __init__(self) -> None:
            pass

    class TensorIOMode:
        INPUT = "input"
        OUTPUT = "output"

    shapes = {c.key: (1, c.height, c.width, 3) for c in spec.cameras}
    shapes[STATE] = (1, 6)
    shapes[ACTION] = (1, spec.chunk_size, 6)

    class Context:
        def __init__(self) -> None:
            self.addresses: dict[str, int] = {}

        def set_tensor_address(self, name, ptr):
            self.addresses[name] = ptr
            return True

        def execute_async_v3(self, stream):
            assert stream == 77
            cudart.enqueue(("exec", self.compute))
            return True

        def compute(self):  # action[k, j] = state[j] + mean(first camera) + k
            a = self.addresses
            state = view(a[STATE], shapes[STATE], np.float32)
            frame = view(a[spec.cameras[0].key], shapes[spec.cameras[0].key], np.uint8)
            out = view(a[ACTION], shapes[ACTION], np.float32)
            out[0] = state[0] + frame.mean() + np.arange(spec.chunk_size)[:, None]

    class Engine:
        names = [*shapes]
        num_io_tensors = len(names)

        def get_tensor_name(self, i):
            return self.names[i]

        def get_tensor_dtype(self, name):
            if dtypes and name in dtypes:
                return dtypes[name]
            return "uint8" if name.startswith("observation.images") else "float32"

        def get_tensor_shape(self, name):
            return (engine_shapes or {}).get(name, shapes[name])

        def get_tensor_mode(self, name):
            return TensorIOMode.OUTPUT if name == ACTION else TensorIOMode.INPUT

        def create_execution_context(self):
            return Context()

    class Runtime:
        def __init__(self, logger) -> None:
            pass

        def deserialize_cuda_engine(self, data):
            return Engine()

    trt.ILogger, trt.TensorIOMode, trt.Runtime = ILogger, TensorIOMode, Runtime
    trt.nptype = np.dtype
    return trt


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "act.plan"
    path.write_bytes(b"fake engine")
    make_spec(
        names=NAMES,
        state_range=(-1.0, 1.0),
        action_range=None,
        artifact=path.name,
        builder="tensorrt-rtx",
        builder_version=VERSION,
        sha256=sha256_file(path),
    ).write(spec_path(path))
    return path


@pytest.mark.parametrize("integrated", [False, True], ids=["discrete", "integrated"])
@pytest.mark.parametrize("graph", [False, True], ids=["stream", "cuda-graph"])
def test_runner_wiring(monkeypatch, plan: Path, integrated: bool, graph: bool):
    cudart = FakeCudart(integrated)
    monkeypatch.setattr(
        compat, "probe_machine", lambda: compat.MachineFacts({"tensorrt-rtx": VERSION}, (8, 9))
    )
    runner = open_runner(plan, options=RunnerOptions(cuda_graph=graph))
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", fake_trt(runner.spec, cudart))
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", cudart)
    with runner:
        flag = cudart.cudaHostAllocMapped if integrated else cudart.cudaHostAllocDefault
        assert cudart.host_flags == [flag] * 3, "one page-locked buffer per I/O tensor"
        assert ("mapped host memory" in runner.description) == integrated
        assert ("cuda-graph" in runner.description) == graph
        for step in range(3):
            cudart.ops.clear()
            runner.inputs["observation.images.front"][...] = 10 * step
            runner.inputs[STATE][0] = np.arange(6) + step
            out = runner.infer()[ACTION]
            expected = np.arange(6) + step + 10 * step + np.arange(5)[:, None]
            np.testing.assert_array_equal(out[0], expected)  # small integers: exact in float32
            ran = [op for op in cudart.ops if op != "graph"]
            assert ran == (["exec"] if integrated else ["h2d", "h2d", "exec", "d2h"])
            assert ("graph" in cudart.ops) == graph
    assert not runner.inputs and cudart.freed > 0, "everything released on exit"


def open_with_fakes(monkeypatch, plan: Path, **engine) -> tuple[object, FakeCudart]:
    cudart = FakeCudart(integrated=False)
    monkeypatch.setattr(
        compat, "probe_machine", lambda: compat.MachineFacts({"tensorrt-rtx": VERSION}, (8, 9))
    )
    runner = open_runner(plan)
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", fake_trt(runner.spec, cudart, **engine))
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", cudart)
    return runner, cudart


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        (
            {"engine_shapes": {ACTION: (1, 100, 6)}},
            r"action: engine float32\[1, 100, 6\], spec float32\[1, 5, 6\]",
        ),
        (
            {"engine_shapes": {STATE: (-1, 6)}},
            r"observation.state: engine float32\[-1, 6\].*dynamic shapes",
        ),
        (
            {"dtypes": {"observation.images.front": "float32"}},
            r"observation.images.front: engine float32\[1, 4, 6, 3\], spec uint8",
        ),
    ],
    ids=["chunk size", "dynamic batch", "dtype"],
)
def test_engine_that_differs_from_its_spec_is_refused_before_allocating(
    monkeypatch, plan: Path, engine: dict, expected: str
):
    from act_tool.runtime.runners import RunnerError

    runner, cudart = open_with_fakes(monkeypatch, plan, **engine)
    with pytest.raises(RunnerError, match=expected) as e:
        runner.__enter__()
    assert "Rebuild the engine" in str(e.value)
    assert cudart.host_flags == [] and not cudart.buffers, "nothing allocated before the check"


@pytest.mark.parametrize(("builder", "extra"), [("tensorrt-rtx", "rtx"), ("tensorrt", "tensorrt")])
def test_missing_cuda_bindings_names_the_extra_of_the_library_in_use(
    monkeypatch, plan: Path, builder: str, extra: str
):
    from dataclasses import replace

    from act_tool.errors import MissingDependencyError

    spec = EngineSpec.read(spec_path(plan))
    replace(spec, builder=builder, target="sm_89" if builder == "tensorrt" else "portable").write(
        spec_path(plan)
    )
    monkeypatch.setattr(
        compat, "probe_machine", lambda: compat.MachineFacts({builder: VERSION}, (8, 9))
    )
    runner = open_runner(plan)
    module = gpu.MODULES[builder]
    monkeypatch.setitem(sys.modules, module, fake_trt(runner.spec, FakeCudart(False)))
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", None)  # import fails
    with pytest.raises(MissingDependencyError, match=rf"act-tool\[{extra}\]"):
        runner.__enter__()
