"""The runner interface shared by every backend (TensorRT, ONNX Runtime, PyTorch).

A runner is a context manager. Entering it loads the model and allocates every buffer; `inputs`
and `outputs` are then fixed numpy arrays the runner owns. The caller writes observations straight
into `inputs[name]`, calls `infer()`, and reads `outputs["action"]`, which stays valid until the
next `infer()`. Nothing on that path allocates.

    with open_runner("act.onnx") as runner:
        runner.inputs["observation.state"][0] = state
        action = runner.infer()["action"]      # [1, chunk_size, A], robot units
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from act_tool.errors import ActToolError
from act_tool.spec import EngineSpec

ACTION = "action"
STATE = "observation.state"


class RunnerError(ActToolError):
    """A runner that cannot load its artifact, or was used outside its context."""


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of the artifact: name, fixed shape, numpy dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name: "uint8", "float32"

    def allocate(self) -> np.ndarray:
        return np.zeros(self.shape, dtype=self.dtype)


def io_specs(spec: EngineSpec) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """The artifact's inputs and outputs as the DESIGN contract states them."""
    inputs = [TensorSpec(c.key, (1, c.height, c.width, 3), "uint8") for c in spec.cameras]
    if spec.state_names:
        inputs.append(TensorSpec(STATE, (1, len(spec.state_names)), "float32"))
    outputs = (TensorSpec(ACTION, (1, spec.chunk_size, len(spec.action_names)), "float32"),)
    return tuple(inputs), outputs


class Runner:
    """Base class: subclasses implement `_open`, `_infer` and `_close`."""

    backend: str = ""

    def __init__(self, artifact: Path, spec: EngineSpec) -> None:
        self.artifact = Path(artifact)
        self.spec = spec
        self.input_specs, self.output_specs = io_specs(spec)
        self.inputs: dict[str, np.ndarray] = {}
        self.outputs: dict[str, np.ndarray] = {}
        self._open_flag = False

    # --- subclass hooks --------------------------------------------------------------------

    def _open(self) -> None:
        raise NotImplementedError

    def _infer(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        pass

    # --- public API ------------------------------------------------------------------------

    @property
    def description(self) -> str:
        """One line for logs: backend and device."""
        return self.backend

    def __enter__(self) -> Runner:
        try:
            self._open()
        except BaseException:
            self._close()
            raise
        self._check_buffers()
        self._open_flag = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open_flag = False
        self._close()

    def infer(self) -> dict[str, np.ndarray]:
        """Run the model on `inputs`; fill and return `outputs` (valid until the next call)."""
        if not self._open_flag:
            raise RunnerError(f"{self.backend} runner is not open: use `with runner:` first")
        self._infer()
        return self.outputs

    def _check_buffers(self) -> None:
        for ts in (*self.input_specs, *self.output_specs):
            buf = self.inputs.get(ts.name, self.outputs.get(ts.name))
            if buf is None or buf.shape != ts.shape or buf.dtype != np.dtype(ts.dtype):
                raise RunnerError(
                    f"{self.backend} runner: buffer {ts.name} is "
                    f"{None if buf is None else (buf.dtype, buf.shape)}, expected "
                    f"{ts.dtype}{list(ts.shape)}; the artifact does not match its spec, export again."
                )
