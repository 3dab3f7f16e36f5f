"""ONNX Runtime runner for `.onnx` artifacts: IO binding over preallocated numpy buffers.

Inputs and outputs are bound once (`bind_cpu_input` / `bind_output` with an OrtValue over our own
arrays), so `infer()` is one `run_with_iobinding` that reads our input arrays in place and writes
the action into our output array. The CUDA provider is used when onnxruntime-gpu offers it (inputs
are copied to the GPU by ONNX Runtime; the output stays bound to host memory).

On the CPU provider `bind_input` makes the run read the caller's array itself, so a camera's
frame buffer is read in place, without a copy. The runner keeps one IO binding per combination of
input arrays it has seen (a camera rotates three buffers: nine combinations for two cameras), each
bound once, all of them up front when the loop announces the cameras' buffers (`prepare_inputs`):
`bind_input` only records the array and `infer` runs the combination's binding. An
ONNX Runtime bind call costs little back to back but much more at a tick's start, with cold
caches (benchmarks/results/loop_cpu.md), so none is made per query.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.errors import MissingDependencyError
from act_tool.runtime.runners.base import Runner, RunnerError
from act_tool.runtime.runners.options import RunnerOptions
from act_tool.spec import EngineSpec

BINDINGS_KEPT = 64  # IO bindings kept, one per combination of input arrays


def cpu_threads() -> int:
    """Cores this process may use (respects taskset / cgroup affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def intra_op_threads(options: RunnerOptions) -> int:
    """ONNX Runtime's intra-op threads: as given, else every core. On a quiet 2-core machine two
    threads ran a small ACT faster than one, in both loops, with no later ticks
    (benchmarks/results/loop_cpu.md, section 3); beside an asynchronous loop the threads stop
    spinning instead (see `spinning`)."""
    return options.threads or cpu_threads()


def import_onnxruntime():
    """onnxruntime is a core dependency (no extra): say how to put it back."""
    try:
        import onnxruntime
    except ImportError as e:
        error = MissingDependencyError("onnxruntime", "", "The ONNX Runtime runner")
        error.args = (
            "The ONNX Runtime runner needs the Python module 'onnxruntime', which is not "
            "installed. Install it with: pip install onnxruntime (or onnxruntime-gpu).",
        )
        raise error from e
    return onnxruntime


class OnnxRuntimeRunner(Runner):
    backend = "onnxruntime"

    def __init__(self, artifact: Path, spec: EngineSpec, options: RunnerOptions) -> None:
        super().__init__(artifact, spec)
        self.options = options
        self.session = None
        self._run_options = None
        self._ortvalue_from_numpy: Any = None
        # CPU provider: (ids of the input arrays, in input order) -> (its IO binding, the arrays)
        self._bindings: dict[tuple[int, ...], tuple[Any, tuple[np.ndarray, ...]]] = {}
        self._ids: list[int] = []  # id() of each input's current array
        self._slot: dict[str, int] = {}  # input name -> index in _ids
        self.providers: list[str] = []

    @property
    def description(self) -> str:
        threads = intra_op_threads(self.options)
        spin = "" if self.spinning else ", no spinning"
        return (
            f"onnxruntime {self.providers[0] if self.providers else ''} ({threads} threads{spin})"
        )

    @property
    def on_gpu(self) -> bool:
        return bool(self.providers) and self.providers[0] != "CPUExecutionProvider"

    @property
    def spinning(self) -> bool:
        """Idle intra-op threads spin (ONNX Runtime's default: the next parallel region starts at
        once) unless the loop ticks beside inference at normal priority, where a spinning thread
        holds a core the waking control thread needs: on a loaded 2-core machine, ticks started
        several times later at p99 with spinning threads on both cores than without
        (benchmarks/results/loop_cpu.md, section 3b). A real-time control thread preempts them at
        once, and spinning threads infer faster (section 3)."""
        return not self.options.asynchronous or self.options.realtime_loop

    def _open(self) -> None:
        ort = import_onnxruntime()
        self._verify_artifact(self.options.verify)
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.intra_op_num_threads = intra_op_threads(self.options)
        so.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if self.spinning else "0"
        )
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        available = ort.get_available_providers()
        wanted = self.options.device or "auto"
        if wanted == "cuda" and "CUDAExecutionProvider" not in available:
            raise RunnerError(
                "ONNX Runtime has no CUDA provider here; install onnxruntime-gpu or use --device cpu"
            )
        providers = ["CPUExecutionProvider"]
        if wanted in ("auto", "cuda") and "CUDAExecutionProvider" in available:
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(self.artifact), so, providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types
            raise RunnerError(
                f"{self.artifact}: ONNX Runtime cannot load it ({e}). Export it again."
            ) from e
        self.providers = list(self.session.get_providers())
        self._ortvalue_from_numpy = ort.OrtValue.ortvalue_from_numpy
        # In place on the CPU provider only. With CUDA, ONNX Runtime copies every host input to
        # the GPU inside each run anyway: binding the caller's memory would save just the host
        # copy, on a path not tried here (no onnxruntime-gpu), so it keeps the plain copy.
        self.binds_without_copy = self.providers[0] == "CPUExecutionProvider"
        names = {i.name for i in self.session.get_inputs()}
        expected = {t.name for t in self.input_specs}
        if names != expected:
            raise RunnerError(
                f"{self.artifact}: inputs {sorted(names)} differ from its spec {sorted(expected)}; "
                "the spec belongs to another export. Export again."
            )
        for ts in self.input_specs:
            self.inputs[ts.name] = ts.allocate()
        for ts in self.output_specs:
            self.outputs[ts.name] = ts.allocate()
        self._slot = {ts.name: i for i, ts in enumerate(self.input_specs)}
        self._ids = [id(self.inputs[ts.name]) for ts in self.input_specs]
        self._make_binding()
        # An explicit RunOptions: with None, ONNX Runtime builds one per call, and Python memory
        # grows for the first ~60 runs (seen with tracemalloc); with ours it stays flat.
        self._run_options = ort.RunOptions()

    def _make_binding(self, arrays: tuple[np.ndarray, ...] | None = None) -> Any:
        """An IO binding of `arrays` (one per input, in spec order; default: the current
        inputs) and our output buffers, kept per combination; past BINDINGS_KEPT combinations
        the others are dropped."""
        if len(self._bindings) >= BINDINGS_KEPT:
            self._bindings.clear()
        binding = self.session.io_binding()  # type: ignore[union-attr]
        if arrays is None:
            arrays = tuple(self.inputs[ts.name] for ts in self.input_specs)
        for ts, array in zip(self.input_specs, arrays, strict=True):
            binding.bind_cpu_input(ts.name, array)  # in place: an OrtValue over its memory
        for ts in self.output_specs:
            buf = self.outputs[ts.name]
            binding.bind_output(ts.name, "cpu", 0, buf.dtype, list(buf.shape), buf.ctypes.data)
        key = tuple(id(a) for a in arrays)
        self._bindings[key] = (binding, arrays)  # arrays kept: their ids stay theirs
        return binding

    def _prepare_inputs(self, variants: Mapping[str, Sequence[np.ndarray]]) -> None:
        """A binding for every combination of the announced arrays (the other inputs as they
        are), up to BINDINGS_KEPT: the loop's first query with each combination would otherwise
        make it inside a tick."""
        if not self.binds_without_copy:
            return
        choices = [
            tuple(variants.get(ts.name, ())) or (self.inputs[ts.name],) for ts in self.input_specs
        ]
        room = BINDINGS_KEPT - len(self._bindings)
        for arrays in itertools.islice(itertools.product(*choices), max(0, room)):
            if tuple(id(a) for a in arrays) not in self._bindings:
                self._make_binding(arrays)

    def _infer(self) -> None:
        entry = self._bindings.get(tuple(self._ids))
        binding = entry[0] if entry is not None else self._make_binding()
        self.session.run_with_iobinding(binding, self._run_options)  # type: ignore[union-attr]

    def _bind_input(self, name: str, array: np.ndarray) -> None:
        if not self.binds_without_copy:
            super()._bind_input(name, array)
            return
        self._ids[self._slot[name]] = id(array)
        self.inputs[name] = array

    def _close(self) -> None:
        self._bindings.clear()
        self._run_options = None
        self.session = None


def create(artifact: Path, spec: EngineSpec, options: RunnerOptions) -> OnnxRuntimeRunner:
    return OnnxRuntimeRunner(artifact, spec, options)
