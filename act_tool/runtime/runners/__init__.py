"""Runners: one interface (runners.base.Runner), one module per backend, picked from a dict.

    runner = open_runner(Path("act.plan"))          # backend from the file type
    runner = open_runner(Path("ckpt/"), "torch")    # or named
    with runner:
        runner.infer()

Backend modules are imported only when chosen, so a robot computer needs only the one inference
library it uses; a missing library raises MissingDependencyError naming the extra. A new backend
is one module with `create(artifact, spec, options) -> Runner` and one entry in BACKENDS (or a
`register_backend` call); the command line's --backend choices come from BACKENDS.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from act_tool.errors import ActToolError
from act_tool.runtime.runners.base import ACTION, STATE, Runner, RunnerError, TensorSpec
from act_tool.runtime.runners.options import RunnerOptions
from act_tool.spec import EngineSpec, spec_path

# backend name -> module with `create(artifact, spec, options)` (or `create_from_checkpoint`).
BACKENDS: dict[str, str] = {
    "tensorrt": "act_tool.runtime.runners.tensorrt_runner",
    "onnxruntime": "act_tool.runtime.runners.onnxruntime_runner",
    "torch": "act_tool.runtime.runners.torch_runner",
    "openvino": "act_tool.runtime.runners.openvino_runner",  # .onnx, with --backend openvino
}
# file suffix -> backend
SUFFIXES: dict[str, str] = {".plan": "tensorrt", ".engine": "tensorrt", ".onnx": "onnxruntime"}

__all__ = [
    "ACTION",
    "BACKENDS",
    "STATE",
    "Runner",
    "RunnerError",
    "RunnerOptions",
    "TensorSpec",
    "backend_for",
    "open_runner",
    "register_backend",
]


def register_backend(name: str, module: str, suffixes: tuple[str, ...] = ()) -> None:
    """Add (or replace) a backend: `module` has `create(artifact, spec, options)`; artifacts
    ending in `suffixes` open with it by default."""
    BACKENDS[name] = module
    for suffix in suffixes:
        SUFFIXES[suffix] = name


def unregister_backend(name: str) -> None:
    BACKENDS.pop(name, None)
    for suffix in [s for s, b in SUFFIXES.items() if b == name]:
        del SUFFIXES[suffix]


def backend_for(artifact: Path) -> str:
    """The backend an artifact's type calls for: .plan -> tensorrt, .onnx -> onnxruntime,
    a checkpoint folder -> torch."""
    artifact = Path(artifact)
    if artifact.is_dir():
        return "torch"
    if artifact.suffix in SUFFIXES:
        return SUFFIXES[artifact.suffix]
    if not artifact.exists():
        raise ActToolError(
            f"{artifact}: no such file. Pass an exported act.plan / act.onnx or a checkpoint folder."
        )
    raise ActToolError(
        f"{artifact}: unknown artifact type. Pass a .plan (TensorRT), a .onnx (ONNX Runtime), or a "
        "LeRobot checkpoint folder (PyTorch), or choose one with --backend."
    )


def open_runner(
    artifact: Path, backend: str | None = None, options: RunnerOptions | None = None
) -> Runner:
    """The runner for `artifact` (not yet entered: use it as a context manager)."""
    artifact = Path(artifact)
    options = options or RunnerOptions()
    backend = backend or backend_for(artifact)
    if backend not in BACKENDS:
        raise ActToolError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not artifact.exists():
        raise ActToolError(f"{artifact}: no such file or folder.")
    module = importlib.import_module(BACKENDS[backend])
    if backend == "torch":
        return module.create_from_checkpoint(artifact, options)
    if artifact.is_dir():
        raise ActToolError(
            f"{artifact}: a folder; the {backend} backend runs an exported file "
            f"({'act.plan' if backend == 'tensorrt' else 'act.onnx'})."
        )
    spec = EngineSpec.read(spec_path(artifact))
    return module.create(artifact, spec, options)
