"""The check file export writes beside each artifact (`act.onnx.check.npz`): a few observations
at the policy's size, LeRobot's actions for them, the bound for the artifact's precision, and the
sha256 of the artifact it belongs to. numpy only: a robot computer reads it without torch.

Layout (a plain .npz, no pickles): `input_<i>` [N, ...] per artifact input in the artifact's own
layout and channel order (what the runner is fed, batch dimension dropped), `reference`
[N, chunk, A] LeRobot's actions in robot units, `scale` [A] the action std errors are measured
against, and 0-d arrays for the scalars and strings.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from act_tool.errors import ActToolError

CHECK_SUFFIX = ".check.npz"
CHECK_FORMAT = 1


def check_path(artifact: Path) -> Path:
    """`act.onnx` -> `act.onnx.check.npz`."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + CHECK_SUFFIX)


@dataclass(frozen=True)
class CheckData:
    """What one check file holds. `bound` applies where the artifact computes in its own
    precision; `gpu_bound` where a GPU may compute FP32 matrix products in TF32 (TensorRT's
    default for FP32 layers, ONNX Runtime's CUDA provider), whose 10-bit mantissa rounds as
    FP16 does."""

    artifact: str  # the artifact's file name
    artifact_sha256: str
    precision: str
    input_names: tuple[str, ...]
    inputs: tuple[np.ndarray, ...]  # per input: [N, ...] as the runner is fed
    reference: np.ndarray  # [N, chunk, A] LeRobot's actions, robot units
    scale: np.ndarray  # [A] the action std
    bound: float  # relative to the std: the parity gate's bound for this precision
    gpu_bound: float
    sources: tuple[str, ...]  # per observation: "random" or the dataset it came from
    built_from: str = ""  # a plan: the ONNX file it was built from
    built_from_sha256: str = ""

    def __post_init__(self) -> None:
        n = self.reference.shape[0]
        if n < 1 or any(a.shape[0] != n for a in self.inputs) or len(self.sources) != n:
            raise ActToolError("a check file needs the same number (>= 1) of each observation")
        if len(self.inputs) != len(self.input_names):
            raise ActToolError("a check file needs one array per input name")

    @property
    def n(self) -> int:
        return int(self.reference.shape[0])

    def for_artifact(self, artifact: Path, sha256: str, **changes: object) -> CheckData:
        """This check's observations and reference, belonging to another artifact (a plan built
        from this check's ONNX)."""
        from dataclasses import replace

        return replace(self, artifact=Path(artifact).name, artifact_sha256=sha256, **changes)

    def write(self, path: Path) -> None:
        """Staged under a temporary name beside `path`, renamed when complete."""
        path = Path(path)
        arrays: dict[str, np.ndarray] = {
            "format": np.array(CHECK_FORMAT),
            "artifact": np.array(self.artifact),
            "artifact_sha256": np.array(self.artifact_sha256),
            "precision": np.array(self.precision),
            "input_names": np.array(self.input_names),
            "reference": self.reference.astype(np.float32),
            "scale": self.scale.astype(np.float64),
            "bound": np.array(self.bound),
            "gpu_bound": np.array(self.gpu_bound),
            "sources": np.array(self.sources),
            "built_from": np.array(self.built_from),
            "built_from_sha256": np.array(self.built_from_sha256),
        }
        for i, a in enumerate(self.inputs):
            arrays[f"input_{i}"] = a
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(f, **arrays)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    @classmethod
    def read(cls, path: Path) -> CheckData:
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["format"]) != CHECK_FORMAT:
                    raise ActToolError(
                        f"{path}: check file format {int(z['format'])}, this act-tool reads "
                        f"{CHECK_FORMAT}. Export again with this act-tool version."
                    )
                names = tuple(str(s) for s in z["input_names"])
                return cls(
                    artifact=str(z["artifact"]),
                    artifact_sha256=str(z["artifact_sha256"]),
                    precision=str(z["precision"]),
                    input_names=names,
                    inputs=tuple(z[f"input_{i}"] for i in range(len(names))),
                    reference=z["reference"],
                    scale=z["scale"],
                    bound=float(z["bound"]),
                    gpu_bound=float(z["gpu_bound"]),
                    sources=tuple(str(s) for s in z["sources"]),
                    built_from=str(z["built_from"]),
                    built_from_sha256=str(z["built_from_sha256"]),
                )
        except ActToolError:
            raise
        except (OSError, KeyError, ValueError) as e:
            raise ActToolError(
                f"{path}: not a readable act-tool check file ({e}). Export again to rewrite it."
            ) from e
