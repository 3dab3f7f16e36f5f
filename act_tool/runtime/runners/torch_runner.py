"""PyTorch runner straight from a LeRobot checkpoint: the reference, and the fallback for machines
without TensorRT. The only runtime module that imports torch (and lerobot), and only when chosen.

It runs act_tool.policy.inference_module.ACTInference, the very module the artifacts are exported
from, so its inputs and outputs are the artifact's. Host buffers are numpy arrays that share memory
with torch CPU tensors (`torch.from_numpy`). On a GPU: device tensors allocated once, optional FP16
weights (inputs and output stay float32), and an optional CUDA graph of the whole step.
On the CPU `bind_input` runs the module on the caller's array itself (a tensor over its memory,
made once per distinct array); on a GPU it copies into the host buffer the step uploads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from act_tool.errors import require
from act_tool.runtime.runners.base import BoundArrays, Runner, RunnerError
from act_tool.runtime.runners.onnxruntime_runner import cpu_threads
from act_tool.runtime.runners.options import RunnerOptions
from act_tool.spec import EngineSpec


class TorchRunner(Runner):
    backend = "torch"

    def __init__(self, checkpoint: Path, spec: EngineSpec, ckpt: Any, options: RunnerOptions):
        super().__init__(checkpoint, spec)
        self.options = options
        self._ckpt = ckpt
        self._torch: Any = None
        self._module: Any = None
        self._host_in: list[Any] = []
        self._dev_in: list[Any] = []
        self._host_out: Any = None
        self._dev_out: Any = None
        self._graph: Any = None
        self._bound: BoundArrays = BoundArrays()  # caller arrays' tensors (CPU)
        self._index: dict[str, int] = {}  # input name -> position in the module's arguments
        self.device = "cpu"

    @property
    def description(self) -> str:
        extra = (" fp16" if self.options.fp16 else "") + (" cuda-graph" if self._graph else "")
        return f"torch {self.device}{extra}"

    def _open(self) -> None:
        torch = require("torch", "export", "The PyTorch runner")
        from act_tool.policy.inference_module import ACTInference

        self._torch = torch
        want = self.options.device
        if want == "cuda" and not torch.cuda.is_available():
            raise RunnerError("no CUDA GPU is visible to torch here; use --device cpu")
        self.device = "cuda" if want in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
        if self.device == "cpu":
            # One core left to the loop, the cameras and the bus: torch's OpenMP workers spin,
            # and with every core taken a busy core stalls each parallel region (on 2 cores a
            # tiny model ran an order of magnitude slower inside the loop than on 1 thread).
            torch.set_num_threads(self.options.threads or max(1, cpu_threads() - 1))
        module = ACTInference(self._ckpt, self.spec.cameras[0].channel_order).eval()
        module.requires_grad_(False)
        if self.device == "cuda":
            module = module.to("cuda")
            if self.options.fp16:
                module = _half_core(module)
        self._module = module
        # On a GPU the step reads device tensors (a CUDA graph their fixed addresses): copy.
        self.binds_without_copy = self.device == "cpu"
        for i, ts in enumerate(self.input_specs):
            self._index[ts.name] = i
            host = self._host_tensor(ts)
            self.inputs[ts.name] = host.numpy()
            self._host_in.append(host)
            self._dev_in.append(host if self.device == "cpu" else host.to("cuda"))
        (out_spec,) = self.output_specs
        self._host_out = self._host_tensor(out_spec)
        self.outputs[out_spec.name] = self._host_out.numpy()
        if self.device == "cuda":
            self._dev_out = torch.empty(out_spec.shape, device="cuda")
            if self.options.cuda_graph:
                self._capture()

    def _host_tensor(self, ts) -> Any:
        """A host tensor sharing memory with the numpy buffer callers fill; page-locked on a GPU
        machine so the copies to and from the device are DMA transfers."""
        torch = self._torch
        dtype = {"uint8": torch.uint8, "float32": torch.float32}[ts.dtype]
        return torch.zeros(ts.shape, dtype=dtype, pin_memory=self.device == "cuda")

    def _step(self) -> None:
        torch = self._torch
        with torch.inference_mode():
            out = self._module(*self._dev_in)
            if self._dev_out is not None:
                self._dev_out.copy_(out.float())
            else:
                self._host_out.copy_(out)

    def _capture(self) -> None:
        torch = self._torch
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):  # warm-up before capture, as torch's docs ask
                self._step()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._step()
        self._graph = graph

    def _infer(self) -> None:
        if self.device == "cpu":
            self._step()
            return
        for host, dev in zip(self._host_in, self._dev_in, strict=True):
            dev.copy_(host, non_blocking=True)
        if self._graph is not None:
            self._graph.replay()
        else:
            self._step()
        self._host_out.copy_(self._dev_out, non_blocking=True)
        self._torch.cuda.current_stream().synchronize()

    def _bind_input(self, name: str, array: np.ndarray) -> None:
        if not self.binds_without_copy:
            super()._bind_input(name, array)
            return
        current = self.inputs[name]
        if array is current:
            return
        tensor = self._bound.get(name, array, self._torch.from_numpy, current)
        self._dev_in[self._index[name]] = tensor  # on the CPU the module reads _dev_in
        self.inputs[name] = array

    def _close(self) -> None:
        self._bound.clear()
        self._graph = None
        self._module = None
        self._dev_in.clear()
        self._host_in.clear()


def _half_core(module: Any) -> Any:
    """FP16 for the network, FP32 for the input affine and output unnormalization (buffers)."""
    for name in ("backbone", "image_proj", "state_proj", "encoder", "decoder", "action_head"):
        part = getattr(module, name, None)
        if part is not None:
            part.half()
    torch = require("torch", "export", "The PyTorch runner")
    forward = module.forward

    def forward_fp16(*inputs: Any) -> Any:
        with torch.autocast("cuda", dtype=torch.float16):
            return forward(*inputs).float()

    module.forward = forward_fp16
    return module


def create_from_checkpoint(checkpoint: Path, options: RunnerOptions) -> TorchRunner:
    """Load a LeRobot checkpoint and describe it with the spec an export would write."""
    require("torch", "export", "The PyTorch runner")
    require("lerobot", "export", "Loading a LeRobot checkpoint")
    from act_tool.policy.checkpoint import load_checkpoint
    from act_tool.policy.describe import spec_from_checkpoint

    ckpt = load_checkpoint(checkpoint)
    spec = spec_from_checkpoint(
        ckpt, units=options.units, channel_order=options.channel_order, fps=options.fps
    )
    return TorchRunner(Path(checkpoint), spec, ckpt, options)
