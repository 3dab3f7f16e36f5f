"""Pick the artifact and backend to run from an export folder (what `act-tool export` and
`act-tool engine` write: act.plan, act.onnx, act.fp16.onnx, act.int8.onnx, each with its spec
and check file). Used where a caller names a folder, not a file: LeRobot's `--policy.path`.

    artifact, backend = choose_artifact(Path("export/"), "auto")

`auto` takes the first backend whose library is installed (TensorRT: and a GPU present) and whose
file is present, in the order of BACKEND_ORDER (the fastest first). numpy-free, torch-free: the standard library only.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from act_tool.errors import ActToolError
from act_tool.gpu import MODULES, compute_capability
from act_tool.spec import spec_path

AUTO = "auto"
# backend -> the files it runs, preferred first (FP32 first on CPUs: FP16 is slower there)
FILES: dict[str, tuple[str, ...]] = {
    "tensorrt": ("act.plan",),
    "onnxruntime": ("act.onnx", "act.fp16.onnx", "act.int8.onnx"),
    "openvino": ("act.onnx", "act.int8.onnx", "act.fp16.onnx"),
}
BACKEND_ORDER = ("tensorrt", "onnxruntime", "openvino")
# backend -> Python modules any one of which runs it
LIBRARIES: dict[str, tuple[str, ...]] = {
    "tensorrt": tuple(MODULES.values()),
    "onnxruntime": ("onnxruntime",),
    "openvino": ("openvino",),
}
EXTRAS = {"tensorrt": "tensorrt", "onnxruntime": "act-tool (core)", "openvino": "openvino"}
BACKENDS = (AUTO, *BACKEND_ORDER)


class ArtifactFolderError(ActToolError):
    """The folder holds no artifact the chosen backend can run."""


def library_installed(backend: str) -> bool:
    """The backend's library is installed (and, for TensorRT, a CUDA GPU is present to run a
    plan: a machine with TensorRT-RTX for building but no GPU runs the ONNX files)."""
    if not any(importlib.util.find_spec(m) is not None for m in LIBRARIES[backend]):
        return False
    return backend != "tensorrt" or compute_capability() is not None


def backend_of(artifact: Path) -> str:
    return "tensorrt" if artifact.suffix in (".plan", ".engine") else "onnxruntime"


def choose_artifact(
    folder: Path, backend: str = AUTO, artifact: str | None = None
) -> tuple[Path, str]:
    """(artifact path, backend) for `folder`; `artifact` names a file in it (e.g.
    act.fp16.onnx), else the backend's preferred file present."""
    folder = Path(folder)
    if backend not in BACKENDS:
        raise ArtifactFolderError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not folder.is_dir():
        raise ArtifactFolderError(
            f"{folder}: no such folder. Pass the folder `act-tool export` wrote (--output)."
        )
    present = sorted(p.name for p in folder.iterdir() if p.suffix in (".plan", ".onnx"))
    if artifact is not None:
        path = folder / artifact
        if not path.is_file():
            raise ArtifactFolderError(
                f"{path}: no such artifact; this folder holds {', '.join(present) or 'none'}."
            )
        return _with_spec(path), backend_of(path) if backend == AUTO else backend
    order = BACKEND_ORDER if backend == AUTO else (backend,)
    for name in order:
        if backend == AUTO and not library_installed(name):
            continue
        for file in FILES[name]:
            if (folder / file).is_file():
                return _with_spec(folder / file), name
    if not present:
        raise ArtifactFolderError(
            f"{folder} holds no act-tool artifact (act.onnx, act.plan). Export one with: "
            f"act-tool export CHECKPOINT --output {folder}"
        )
    wanted = ", ".join(f for name in order for f in FILES[name])
    raise ArtifactFolderError(
        f"{folder} holds {', '.join(present)}, none of which the "
        + (
            f"{backend} backend runs (it runs {wanted})"
            if backend != AUTO
            else "installed backends run"
        )
        + ". Choose another backend, or build the file it needs (act-tool engine for act.plan)."
    )


def _with_spec(path: Path) -> Path:
    if not spec_path(path).is_file():
        raise ArtifactFolderError(
            f"{path.name} has no spec beside it ({spec_path(path).name}): the runtime cannot tell "
            "its cameras, joints and units. Export again with act-tool export, which writes the "
            "artifact, its spec and its check file together."
        )
    return path
