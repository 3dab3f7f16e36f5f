"""The runner interface shared by every backend (TensorRT, ONNX Runtime, PyTorch).

A runner is a context manager. Entering it loads the model and allocates every buffer; `inputs`
and `outputs` are then fixed numpy arrays the runner owns. The caller writes observations straight
into `inputs[name]`, calls `infer()`, and reads `outputs["action"]`, which stays valid until the
next `infer()`. Nothing on that path allocates.

Instead of writing into `inputs[name]`, a caller may bind its own array (`bind_input`): backends
that read the caller's memory (`binds_without_copy`: ONNX Runtime and PyTorch on the CPU) then
run on it in place, and `inputs[name]` becomes that array; the others copy it into their buffer.

    with open_runner("act.onnx") as runner:
        runner.inputs["observation.state"][0] = state
        runner.bind_input("observation.images.front", frame)  # [1, H, W, 3] uint8
        action = runner.infer()["action"]      # [1, chunk_size, A], robot units
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

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


class BoundArrays:
    """Per input, one backend object (an OrtValue, a tensor) per distinct caller array, keyed by
    id() and kept with its array (so the id stays that array's): binding an array seen before
    allocates nothing. A camera rotates three buffers, so a handful per input is all there is;
    past `limit` the entries not currently bound are dropped."""

    def __init__(self, limit: int = 8) -> None:
        self.limit = limit
        self._entries: dict[str, dict[int, tuple[Any, np.ndarray]]] = {}

    def get(self, name: str, array: np.ndarray, make: Any, current: np.ndarray) -> Any:
        """The object for `array` (made with make(array) the first time); `current` is the
        array bound now, kept if entries are dropped."""
        entries = self._entries.get(name)
        if entries is None:
            entries = self._entries[name] = {}
        entry = entries.get(id(array))
        if entry is None:
            if len(entries) >= self.limit:
                keep = entries.get(id(current))
                entries.clear()
                if keep is not None:
                    entries[id(current)] = keep
            entry = entries[id(array)] = (make(array), array)
        return entry[0]

    def clear(self) -> None:
        self._entries.clear()


class Runner:
    """Base class: subclasses implement `_open`, `_infer` and `_close`."""

    backend: str = ""
    # True where bind_input makes infer() read the caller's array in place (no copy).
    binds_without_copy: bool = False

    def __init__(self, artifact: Path, spec: EngineSpec) -> None:
        self.artifact = Path(artifact)
        self.spec = spec
        self.input_specs, self.output_specs = io_specs(spec)
        self.inputs: dict[str, np.ndarray] = {}
        self.outputs: dict[str, np.ndarray] = {}
        # the sha256 the artifact's bytes were verified to have when loaded ("" if not checked)
        self.verified_sha256 = ""
        self._open_flag = False

    def _verify_artifact(self, verify: bool) -> None:
        """With `verify` and a hash in the spec, check the artifact's bytes against it (SpecError
        on a mismatch) and remember the hash as verified."""
        if verify and self.spec.sha256:
            self.spec.verify_artifact(self.artifact)
            self.verified_sha256 = self.spec.sha256

    # --- subclass hooks --------------------------------------------------------------------

    def _open(self) -> None:
        raise NotImplementedError

    def _infer(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        pass

    def _bind_input(self, name: str, array: np.ndarray) -> None:
        """Copy into our own buffer: every backend works unchanged (TensorRT's pinned buffers and
        CUDA-graph addresses stay as they are). Backends that read in place override this."""
        np.copyto(self.inputs[name], array)

    # --- public API ------------------------------------------------------------------------

    @property
    def description(self) -> str:
        """One line for logs: backend and device."""
        return self.backend

    @property
    def on_gpu(self) -> bool:
        """Whether infer() computes on a GPU (the self-check's bound then allows TF32)."""
        return False

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

    def reset(self) -> None:
        """Forget what earlier calls left behind, as LeRobot's policy.reset() does between
        episodes. The loop calls it after warm-up. A runner whose output depends only on this
        call's inputs (every exported artifact) keeps nothing."""

    def bind_input(self, name: str, array: np.ndarray) -> None:
        """The next `infer()` calls read input `name` from `array` (its spec'd shape and dtype,
        C-contiguous), which the caller leaves unchanged until infer returns. With
        `binds_without_copy` infer reads it in place and `inputs[name]` becomes `array` (inputs
        always name what the next infer reads); otherwise it is copied now into `inputs[name]`,
        so bind again after changing it. Allocates nothing for an array bound before."""
        self._check_bindable(name, array)
        self._bind_input(name, array)

    def prepare_inputs(self, variants: Mapping[str, Sequence[np.ndarray]]) -> None:
        """Announce every array that will be bound to some inputs (a camera's rotating buffers),
        before the first tick: a runner that sets something up per array or per combination
        of arrays does it now, so no tick pays for it. Checks them as `bind_input` does; what
        the next `infer()` reads is unchanged."""
        for name, arrays in variants.items():
            for array in arrays:
                self._check_bindable(name, array)
        self._prepare_inputs(variants)

    def _prepare_inputs(self, variants: Mapping[str, Sequence[np.ndarray]]) -> None:
        pass

    def _check_bindable(self, name: str, array: np.ndarray) -> None:
        if not self._open_flag:
            raise RunnerError(f"{self.backend} runner is not open: use `with runner:` first")
        own = self.inputs.get(name)
        if own is None:
            raise RunnerError(
                f"{self.backend} runner has no input {name!r}; its inputs: {sorted(self.inputs)}"
            )
        if array.shape != own.shape or array.dtype != own.dtype or not array.flags.c_contiguous:
            raise RunnerError(
                f"{self.backend} runner: input {name} needs a C-contiguous "
                f"{own.dtype}{list(own.shape)} array, got {array.dtype}{list(array.shape)}"
                f"{'' if array.flags.c_contiguous else ' (not contiguous)'}."
            )

    def _check_buffers(self) -> None:
        for ts in (*self.input_specs, *self.output_specs):
            buf = self.inputs.get(ts.name, self.outputs.get(ts.name))
            if buf is None or buf.shape != ts.shape or buf.dtype != np.dtype(ts.dtype):
                raise RunnerError(
                    f"{self.backend} runner: buffer {ts.name} is "
                    f"{None if buf is None else (buf.dtype, buf.shape)}, expected "
                    f"{ts.dtype}{list(ts.shape)}; the artifact does not match its spec, export again."
                )
