"""TensorRT runner for `.plan` files (enterprise `tensorrt` or `tensorrt_rtx`), memory through
cuda-python (`cuda.bindings.runtime`).

On entry, once: check the spec against this machine (runners.compat), deserialize the engine with
the process-wide logger, check its tensors' names, shapes and dtypes against the spec (refused
before any memory is allocated), create one non-blocking stream, allocate a page-locked host buffer and a
device buffer per I/O tensor and set every tensor address. On an integrated GPU (Jetson) the host
buffers are mapped memory the GPU reads in place: no copies at all. `infer()` enqueues the H2D
copies, `execute_async_v3` and the D2H copies on that stream and waits for it; with
`cuda_graph=True` that whole step is captured once into a CUDA graph and replayed.
"""

from __future__ import annotations

import ctypes
import importlib
from pathlib import Path
from typing import Any

import numpy as np

from act_tool import gpu
from act_tool.errors import require
from act_tool.runtime.runners import compat
from act_tool.runtime.runners.base import Runner, RunnerError
from act_tool.runtime.runners.options import RunnerOptions
from act_tool.spec import EngineSpec


def _host_array(ptr: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A numpy view of `nbytes` of page-locked memory at `ptr` (owned by CUDA, freed on close)."""
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = (ctypes.c_uint8 * nbytes).from_address(ptr)
    return np.frombuffer(raw, dtype=np.uint8).view(dtype).reshape(shape)


class TensorRTRunner(Runner):
    backend = "tensorrt"

    def __init__(self, artifact: Path, spec: EngineSpec, options: RunnerOptions) -> None:
        super().__init__(artifact, spec)
        self.options = options
        self._cudart: Any = None
        self._engine: Any = None
        self._context: Any = None
        self._stream: Any = None
        self._graph: Any = None
        self._graph_exec: Any = None
        self._host_ptrs: list[int] = []
        self._device_ptrs: list[int] = []
        self._h2d: list[tuple[int, int, int]] = []  # (dst device, src host, nbytes)
        self._d2h: list[tuple[int, int, int]] = []
        self.integrated = False
        self.library = ""

    @property
    def description(self) -> str:
        parts = [self.library, "mapped host memory" if self.integrated else "device memory"]
        if self._graph_exec is not None:
            parts.append("cuda-graph")
        return "tensorrt (" + ", ".join(p for p in parts if p) + ")"

    @property
    def on_gpu(self) -> bool:
        return True

    # --- CUDA helpers ----------------------------------------------------------------------

    def _call(self, result: Any, what: str) -> Any:
        cudart = self._cudart
        err, *values = result if isinstance(result, tuple) else (result,)
        if err != cudart.cudaError_t.cudaSuccess:
            _, name = cudart.cudaGetErrorName(err)
            raise RunnerError(
                f"CUDA {what} failed: {name!r}. Is the GPU driver working (nvidia-smi)?"
            )
        if not values:
            return None
        return values[0] if len(values) == 1 else tuple(values)

    # --- lifecycle -------------------------------------------------------------------------

    def _open(self) -> None:
        module = compat.check_plan(self.spec, self.artifact, compat.probe_machine())
        self.verified_sha256 = self.spec.sha256  # check_plan verified the bytes against it
        trt = importlib.import_module(module)
        self.library = f"{module} {trt.__version__}"
        self._cudart = require(
            "cuda.bindings.runtime", gpu.EXTRAS[self.spec.builder], "The TensorRT runner"
        )
        cudart = self._cudart
        self._call(cudart.cudaSetDevice(0), "cudaSetDevice")
        self.integrated = bool(
            self._call(
                cudart.cudaDeviceGetAttribute(cudart.cudaDeviceAttr.cudaDevAttrIntegrated, 0),
                "cudaDeviceGetAttribute(integrated)",
            )
        )
        runtime = trt.Runtime(gpu.shared_logger(trt))
        self._engine = runtime.deserialize_cuda_engine(self.artifact.read_bytes())
        if self._engine is None:
            raise RunnerError(
                f"{self.artifact}: TensorRT could not deserialize the plan. "
                + compat.rebuild_hint(self.spec, self.artifact)
            )
        layout = self._check_tensors(trt)  # before anything is allocated
        self._context = self._engine.create_execution_context()
        self._stream = self._call(
            cudart.cudaStreamCreateWithFlags(cudart.cudaStreamNonBlocking), "cudaStreamCreate"
        )
        for name, (shape, dtype, is_input) in layout.items():
            self._bind(name, shape, dtype, is_input)
        if self.options.cuda_graph:
            self._capture()

    def _check_tensors(self, trt: Any) -> dict[str, tuple[tuple[int, ...], np.dtype, bool]]:
        """The engine's I/O tensors (name -> shape, dtype, is input), refused unless they are
        exactly the spec's: same names, direction, static shape and dtype."""
        engine = self._engine
        inputs = {t.name: t for t in self.input_specs}
        wanted = {t.name: t for t in (*self.input_specs, *self.output_specs)}
        found = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        if sorted(found) != sorted(wanted):
            raise RunnerError(
                f"{self.artifact}: engine tensors {sorted(found)} differ from the spec's "
                f"{sorted(wanted)}; the spec belongs to another export. Export again."
            )
        layout = {}
        problems = []
        for name in found:
            shape = tuple(int(d) for d in engine.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            want = wanted[name]
            if shape != want.shape or dtype != np.dtype(want.dtype):
                problems.append(
                    f"{name}: engine {dtype.name}{list(shape)}, spec {want.dtype}{list(want.shape)}"
                )
            if is_input != (name in inputs):
                role = ("an output", "an input")
                problems.append(
                    f"{name}: {role[is_input]} of the engine, {role[name in inputs]} in the spec"
                )
            layout[name] = (shape, dtype, is_input)
        if problems:
            raise RunnerError(
                f"{self.artifact}: the engine does not match its spec ("
                + "; ".join(problems)
                + "). The plan and spec come from different exports, or the engine has dynamic "
                "shapes. " + compat.rebuild_hint(self.spec, self.artifact)
            )
        return layout

    def _bind(self, name: str, shape: tuple[int, ...], dtype: np.dtype, is_input: bool) -> None:
        cudart = self._cudart
        nbytes = int(np.prod(shape)) * dtype.itemsize
        flags = cudart.cudaHostAllocMapped if self.integrated else cudart.cudaHostAllocDefault
        host = int(self._call(cudart.cudaHostAlloc(nbytes, flags), "cudaHostAlloc"))
        self._host_ptrs.append(host)
        if self.integrated:
            device = int(self._call(cudart.cudaHostGetDevicePointer(host, 0), "host pointer"))
        else:
            device = int(self._call(cudart.cudaMalloc(nbytes), "cudaMalloc"))
            self._device_ptrs.append(device)
        array = _host_array(host, shape, dtype)
        array[...] = 0
        if is_input:
            self.inputs[name] = array
            if not self.integrated:
                self._h2d.append((device, host, nbytes))
        else:
            self.outputs[name] = array
            if not self.integrated:
                self._d2h.append((host, device, nbytes))
        if not self._context.set_tensor_address(name, device):
            raise RunnerError(f"TensorRT refused the address of tensor {name}")

    def _enqueue(self) -> None:
        cudart = self._cudart
        stream = self._stream
        for dst, src, n in self._h2d:
            self._call(
                cudart.cudaMemcpyAsync(
                    dst, src, n, cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, stream
                ),
                "H2D copy",
            )
        if not self._context.execute_async_v3(int(stream)):
            raise RunnerError("TensorRT execute_async_v3 failed; see the TensorRT log above")
        for dst, src, n in self._d2h:
            self._call(
                cudart.cudaMemcpyAsync(
                    dst, src, n, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream
                ),
                "D2H copy",
            )

    def _capture(self) -> None:
        """Run once (TensorRT finishes its lazy setup), then capture the step into a graph."""
        cudart = self._cudart
        self._enqueue()
        self._call(cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        self._call(
            cudart.cudaStreamBeginCapture(
                self._stream, cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
            ),
            "cudaStreamBeginCapture",
        )
        try:
            self._enqueue()
        finally:
            self._graph = self._call(cudart.cudaStreamEndCapture(self._stream), "capture")
        self._graph_exec = self._call(cudart.cudaGraphInstantiate(self._graph, 0), "instantiate")

    def _infer(self) -> None:
        cudart = self._cudart
        if self._graph_exec is not None:
            self._call(cudart.cudaGraphLaunch(self._graph_exec, self._stream), "cudaGraphLaunch")
        else:
            self._enqueue()
        self._call(cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")

    def _close(self) -> None:
        cudart = self._cudart
        if cudart is None:
            return
        if self._stream is not None:
            cudart.cudaStreamSynchronize(self._stream)
        if self._graph_exec is not None:
            cudart.cudaGraphExecDestroy(self._graph_exec)
        if self._graph is not None:
            cudart.cudaGraphDestroy(self._graph)
        self._graph_exec = self._graph = None
        self.inputs.clear()
        self.outputs.clear()
        self._context = None
        self._engine = None
        for ptr in self._device_ptrs:
            cudart.cudaFree(ptr)
        for ptr in self._host_ptrs:
            cudart.cudaFreeHost(ptr)
        self._device_ptrs.clear()
        self._host_ptrs.clear()
        self._h2d.clear()
        self._d2h.clear()
        if self._stream is not None:
            cudart.cudaStreamDestroy(self._stream)
            self._stream = None


def create(artifact: Path, spec: EngineSpec, options: RunnerOptions) -> TensorRTRunner:
    return TensorRTRunner(artifact, spec, options)
