"""OpenVINO runner for `.onnx` artifacts (`act.onnx`, `act.fp16.onnx`, `act.int8.onnx`): one infer
request whose tensors are numpy buffers, on OpenVINO's CPU device (`--backend openvino`).

On entry, once: read the ONNX with `Core.read_model`, check its inputs against the spec, compile
it for the device with a latency hint (one stream), the runner's thread count and FP32 inference
precision, create one infer request, and set every input and output tensor of that request to an
`ov.Tensor` over our own numpy arrays (`shared_memory=True`: the tensor is the array's memory, no
copy). `infer()` then starts the request and waits for it: OpenVINO reads our input arrays and
writes the action straight into our output array.

`bind_input` sets the input's tensor to one over the caller's array (made once per array, all of
them up front when the loop announces a camera's buffers: `prepare_inputs`), so the next infer
reads the camera's frame buffer where it lies; a set_tensor call is all a bind costs, and none is
made when the array is already bound.

Inference precision is FP32 whatever the artifact: OpenVINO's CPU device would otherwise compute
in bf16 (CPUs with AMX) or f16 (ARM), also the ops the artifact keeps in FP32 because measured
values overflow FP16, and the parity gate measured none of that. An FP16 artifact thus runs its
FP16 weights in FP32 arithmetic; a QDQ INT8 artifact runs its quantized ops in INT8, where the
CPU plugin compiles them (a graph it refuses is a RunnerError with OpenVINO's message).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.errors import MissingDependencyError
from act_tool.runtime.runners.base import BoundArrays, Runner, RunnerError
from act_tool.runtime.runners.options import Device, RunnerOptions
from act_tool.spec import EngineSpec

EXTRA = "openvino"
# act-tool's device -> OpenVINO's device name; None: OpenVINO cannot compute there.
DEVICES: dict[str, str | None] = {Device.AUTO: "CPU", Device.CPU: "CPU", Device.CUDA: None}
# Numpy dtypes of the artifact contract, as OpenVINO names its element types.
ELEMENT_TYPES = {"uint8": "u8", "float32": "f32"}


def import_openvino():
    """openvino is an extra: say which one.

    `import openvino` also imports its model conversion API (openvino.tools.ovc, where
    installed), which the runner never uses and whose import starts openvino-telemetry: without
    a consent file (~/intel/openvino_telemetry) it writes a client id under ~/intel and sends a
    usage event from a background thread. A robot's runtime makes no network calls of its own
    accord, so that one import is skipped here (openvino catches its ImportError); a process that
    imported openvino before keeps what it has."""
    ovc = "openvino.tools.ovc"
    masked = "openvino" not in sys.modules and ovc not in sys.modules
    if masked:
        sys.modules[ovc] = None  # type: ignore[assignment]  # `import` of it raises ImportError
    try:
        import openvino
    except ImportError as e:
        raise MissingDependencyError("openvino", EXTRA, "The OpenVINO runner") from e
    finally:
        if masked and ovc in sys.modules and sys.modules[ovc] is None:
            del sys.modules[ovc]  # an explicit import later (export tooling) works as usual
    return openvino


def openvino_device(device: str, available: Sequence[str]) -> str:
    """OpenVINO's name for act-tool's `device`, refused (with the devices OpenVINO has here) where
    OpenVINO cannot compute on it."""
    have = ", ".join(available) or "none"
    name = DEVICES.get(device)
    if name is None:
        raise RunnerError(
            f"OpenVINO does not run on {device!r}; the devices OpenVINO has here: {have}. "
            "Use --device cpu, or another backend (--backend onnxruntime / tensorrt)."
        )
    # "GPU" is there as "GPU.0", "GPU.1" where there are several
    if not any(d == name or d.startswith(name + ".") for d in available):
        raise RunnerError(
            f"OpenVINO has no {name} device here; the devices OpenVINO has here: {have}. "
            "Check the OpenVINO install (python -c 'import openvino; "
            "print(openvino.Core().available_devices)')."
        )
    return name


class OpenVinoRunner(Runner):
    backend = "openvino"
    binds_without_copy = True  # every tensor of the request is a numpy array's memory

    def __init__(self, artifact: Path, spec: EngineSpec, options: RunnerOptions) -> None:
        super().__init__(artifact, spec)
        self.options = options
        self.device = ""
        self.threads = 0  # as compiled (OpenVINO's choice when options.threads is None)
        self._compiled: Any = None
        self._request: Any = None
        self._tensor: Any = None  # openvino.Tensor
        self._ports: dict[str, Any] = {}  # input name -> the compiled model's input port
        self._output_tensors: list[Any] = []  # over our output buffers
        self._bound = BoundArrays()  # a tensor per array bound (our own buffers too)

    @property
    def description(self) -> str:
        return f"openvino {self.device} ({self.threads} threads)"

    def _open(self) -> None:
        ov = import_openvino()
        self._verify_artifact(self.options.verify)
        core = ov.Core()
        self.device = openvino_device(self.options.device or Device.AUTO, core.available_devices)
        try:
            model = core.read_model(str(self.artifact))
        except Exception as e:  # OpenVINO raises RuntimeError subclasses of its own
            raise RunnerError(
                f"{self.artifact}: OpenVINO cannot read it ({e}). Export it again."
            ) from e
        self._check_model(model)
        config = {
            "PERFORMANCE_HINT": "LATENCY",  # one stream: each inference on every thread
            "INFERENCE_PRECISION_HINT": "f32",  # see the module docstring
        }
        if self.options.threads:
            config["INFERENCE_NUM_THREADS"] = str(self.options.threads)
        try:
            self._compiled = core.compile_model(model, self.device, config)
        except Exception as e:
            raise RunnerError(
                f"{self.artifact}: OpenVINO cannot compile it for {self.device} ({e}). "
                "Export it again, or run it with --backend onnxruntime."
            ) from e
        self.threads = int(self._compiled.get_property("INFERENCE_NUM_THREADS"))
        self._request = self._compiled.create_infer_request()
        self._tensor = ov.Tensor
        for ts in self.input_specs:
            buf = self.inputs[ts.name] = ts.allocate()
            self._ports[ts.name] = self._compiled.input(ts.name)
            self._set(self._ports[ts.name], self._bound.get(ts.name, buf, self._make_tensor, buf))
        for ts in self.output_specs:
            buf = self.outputs[ts.name] = ts.allocate()
            self._output_tensors.append(self._make_tensor(buf))
            self._set(self._compiled.output(ts.name), self._output_tensors[-1])

    def _check_model(self, model: Any) -> None:
        """The ONNX's inputs and outputs are the spec's (names, static shapes, element types):
        refused before compiling, with what to do."""
        problems = []
        for kind, ports, specs in (
            ("inputs", model.inputs, self.input_specs),
            ("outputs", model.outputs, self.output_specs),
        ):
            found = {}
            for port in ports:
                for name in port.get_names():
                    found[name] = port
            missing = [ts.name for ts in specs if ts.name not in found]
            if missing or len(ports) != len(specs):
                problems.append(
                    f"{kind} {sorted(found)} differ from its spec {sorted(t.name for t in specs)}"
                )
                continue
            for ts in specs:
                port = found[ts.name]
                shape = port.get_partial_shape()
                dims = tuple(d.get_length() for d in shape) if shape.is_static else None
                etype = port.get_element_type().get_type_name()
                if dims != ts.shape or etype != ELEMENT_TYPES[ts.dtype]:
                    problems.append(
                        f"{ts.name} is {etype}{shape} where its spec says {ts.dtype}{list(ts.shape)}"
                    )
        if problems:
            raise RunnerError(
                f"{self.artifact}: {'; '.join(problems)}; the spec belongs to another export. "
                "Export again."
            )

    def _make_tensor(self, array: np.ndarray) -> Any:
        """An OpenVINO tensor over `array`'s memory (no copy); the array must outlive it."""
        return self._tensor(array, shared_memory=True)

    def _set(self, port: Any, tensor: Any) -> None:
        try:
            self._request.set_tensor(port, tensor)
        except Exception as e:
            raise RunnerError(
                f"{self.artifact}: OpenVINO refused a tensor for {port} ({e})."
            ) from e

    def _infer(self) -> None:
        # start and wait: the tensors are all set, so nothing goes in or comes back through
        # Python (`infer()` would build a dict of result arrays on every call)
        self._request.start_async()
        self._request.wait()

    def _bind_input(self, name: str, array: np.ndarray) -> None:
        current = self.inputs[name]
        if array is current:
            return
        self._set(self._ports[name], self._bound.get(name, array, self._make_tensor, current))
        self.inputs[name] = array

    def _prepare_inputs(self, variants: Mapping[str, Sequence[np.ndarray]]) -> None:
        """A tensor for every announced array now, so no tick makes one (the limit of
        BoundArrays per input is above a camera's three buffers)."""
        for name, arrays in variants.items():
            for array in arrays:
                self._bound.get(name, array, self._make_tensor, self.inputs[name])

    def _close(self) -> None:
        self._request = None  # first: it holds the tensors over the arrays below
        self._compiled = None
        self._ports.clear()
        self._bound.clear()
        self._output_tensors.clear()


def create(artifact: Path, spec: EngineSpec, options: RunnerOptions) -> OpenVinoRunner:
    return OpenVinoRunner(artifact, spec, options)
