"""Options every runner understands (each uses the ones that apply to it)."""

from __future__ import annotations

from dataclasses import dataclass

from act_tool.compat import StrEnum
from act_tool.errors import ActToolError


class Device(StrEnum):
    """Where a runner computes. AUTO: the GPU when the backend has one, else the CPU."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


@dataclass(frozen=True)
class RunnerOptions:
    device: str = Device.AUTO
    threads: int | None = (
        None  # CPU threads (ONNX Runtime intra-op, torch); None: ONNX Runtime every core, torch every core but one
    )
    # The runner computes on a background thread while the control loop keeps ticking (run
    # --async): ONNX Runtime's idle threads then do not spin, unless `realtime_loop`.
    asynchronous: bool = False
    # The control loop ticks at real-time priority (SCHED_FIFO), so threads of normal priority
    # cannot delay its wake-up, spinning or not.
    realtime_loop: bool = False
    cuda_graph: bool = False  # TensorRT / PyTorch on a GPU: capture the step in a CUDA graph
    fp16: bool = False  # PyTorch on a GPU: run in half precision
    verify: bool = True  # check the artifact's sha256 against its spec before loading
    # PyTorch runner only (a checkpoint has no spec): how to describe it.
    channel_order: str = "bgr"
    units: str = "degrees"
    fps: int | None = None

    def __post_init__(self) -> None:
        if self.device not in tuple(Device):
            choices = ", ".join(Device)
            raise ActToolError(f"device must be one of {choices}, got {self.device!r}")
        if self.threads is not None and self.threads < 1:
            raise ActToolError(f"threads must be >= 1, got {self.threads}")
