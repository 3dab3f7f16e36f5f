"""EngineSpec: the self-description written beside every artifact (`act.onnx.json`, ...).

Export writes it, the runtime reads it: camera names and sizes, channel order, state and action
names and units, rates, chunking, the dataset's state and action ranges, precision, the builder
and target, the artifact's sha256, the source checkpoint and the parity figures. No torch here.

Format versions: 2 added `action_min`/`action_max` (the training range of the action, which the
run loop clamps goals to); 3 added `robot_type` (the arm the policy was trained for); 4 the
check file; 5 `calibration` (the dataset frames an INT8 artifact was calibrated on). Older files
still load, with those fields empty.

The choices a spec holds (channel order, precision, builder; units in act_tool.robot_types) are
defined here once; the command line derives its options from them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from act_tool.compat import StrEnum
from act_tool.errors import SpecError
from act_tool.robot_types import Units

FORMAT_VERSION = 5
# 1: no action range; 1-2: no robot type; 1-3: no check file; 1-4: no calibration
READABLE_VERSIONS = (1, 2, 3, 4, 5)


class ChannelOrder(StrEnum):
    """Channel order of the frames a runtime feeds (OpenCV delivers BGR)."""

    BGR = "bgr"
    RGB = "rgb"


class Precision(StrEnum):
    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"  # static QDQ quantization (act_tool.export.int8); a CPU path, no engine


class Builder(StrEnum):
    """What made the artifact: the ONNX export itself, or a TensorRT builder."""

    ONNX = "onnx"
    TENSORRT = "tensorrt"
    TENSORRT_RTX = "tensorrt-rtx"


def _check_choice(what: str, value: str, choices: type[StrEnum]) -> None:
    if value not in tuple(choices):
        raise SpecError(f"{what} must be one of {', '.join(choices)}, got {value!r}")


@dataclass(frozen=True)
class CameraSpec:
    """One camera input: LeRobot key (`observation.images.front`), frame size, channel order."""

    key: str
    height: int
    width: int
    channel_order: str = "bgr"

    def __post_init__(self) -> None:
        _check_choice(f"camera {self.key}: channel_order", self.channel_order, ChannelOrder)
        if self.height <= 0 or self.width <= 0:
            raise SpecError(
                f"camera {self.key}: size must be positive, got {self.height}x{self.width}"
            )

    @property
    def name(self) -> str:
        """The short name (`front`) used on the command line."""
        return self.key.removeprefix("observation.images.")


@dataclass(frozen=True)
class EngineSpec:
    """Everything a runtime and a person need to use one artifact."""

    artifact: str  # file name, relative to the spec's folder
    cameras: tuple[CameraSpec, ...]
    state_names: tuple[str, ...]
    action_names: tuple[str, ...]
    units: str  # joints in "degrees" or LeRobot's "range" (-100..100); gripper 0..100
    fps: int
    chunk_size: int
    n_action_steps: int
    temporal_ensemble_coeff: float | None
    state_min: tuple[float, ...]
    state_max: tuple[float, ...]
    precision: str = "fp32"
    builder: str = "onnx"
    builder_version: str = ""
    target: str = "portable"  # GPU compute capability ("sm_89") or "portable"
    sha256: str = ""
    source_checkpoint: str = ""
    parity: dict[str, Any] = field(default_factory=dict)
    action_std: tuple[float, ...] = ()  # the scale parity and bench errors are measured against
    # The training range of each action (empty: unknown, e.g. a format-1 spec).
    action_min: tuple[float, ...] = ()
    action_max: tuple[float, ...] = ()
    # LeRobot's robot type the policy was trained for ("so101_follower"); "": unknown (older).
    robot_type: str = ""
    # FLOPs of one inference (a multiply-add is 2), counted on the FP32 graph at export; None:
    # not counted (a spec written before the count existed).
    flops: int | None = None
    # The self-check file beside the artifact (`act.onnx.check.npz`) and its sha256; "": none
    # (a spec written before check files existed).
    check_file: str = ""
    check_sha256: str = ""
    # An INT8 artifact's calibration set: dataset path, frames, episodes, method; {}: none (not
    # INT8, or a spec written before format 5).
    calibration: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        _check_choice("units", self.units, Units)
        _check_choice("precision", self.precision, Precision)
        _check_choice("builder", self.builder, Builder)
        if not self.cameras:
            raise SpecError("a spec needs at least one camera")
        if len(self.state_min) != len(self.state_names) or len(self.state_max) != len(
            self.state_names
        ):
            raise SpecError("state_min/state_max must have one value per state name")
        if not 1 <= self.n_action_steps <= self.chunk_size:
            raise SpecError(
                f"n_action_steps must be in 1..chunk_size ({self.chunk_size}), got {self.n_action_steps}"
            )
        if self.action_std and len(self.action_std) != len(self.action_names):
            raise SpecError("action_std must have one value per action name")
        if len(self.action_min) != len(self.action_max) or (
            self.action_min and len(self.action_min) != len(self.action_names)
        ):
            raise SpecError("action_min/action_max must both be empty or one value per action name")
        if any(lo > hi for lo, hi in zip(self.action_min, self.action_max, strict=True)):
            raise SpecError("action_min must not exceed action_max")
        if self.fps <= 0:
            raise SpecError(f"fps must be positive, got {self.fps}")

    @property
    def input_names(self) -> list[str]:
        return [c.key for c in self.cameras] + (["observation.state"] if self.state_names else [])

    def with_artifact(self, artifact: Path, **changes: Any) -> EngineSpec:
        """A copy describing `artifact` (its name and sha256), with other fields changed."""
        return replace(self, artifact=Path(artifact).name, sha256=sha256_file(artifact), **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineSpec:
        version = data.get("format_version")
        if version not in READABLE_VERSIONS:
            raise SpecError(
                f"spec format version {version!r} is not one this act-tool reads "
                f"({', '.join(map(str, READABLE_VERSIONS))}); re-export the model with this "
                "act-tool version."
            )
        try:
            data = dict(data)
            data["cameras"] = tuple(CameraSpec(**c) for c in data["cameras"])
            for key in ("state_names", "action_names", "state_min", "state_max"):
                data[key] = tuple(data[key])
            for key in ("action_std", "action_min", "action_max"):  # absent from older specs
                data[key] = tuple(data.get(key, ()))
            return cls(**data)
        except (KeyError, TypeError) as e:
            raise SpecError(f"spec is missing or has a malformed field: {e}") from e

    def write(self, path: Path) -> None:
        atomic_write_text(Path(path), self.to_json())

    @classmethod
    def read(cls, path: Path) -> EngineSpec:
        path = Path(path)
        if not path.is_file():
            raise SpecError(
                f"{path}: spec file missing. It is written by `act-tool export` beside the artifact."
            )
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise SpecError(f"{path}: not valid JSON ({e}).") from e
        try:
            return cls.from_dict(data)
        except SpecError as e:
            raise SpecError(f"{path}: {e}") from e

    def verify_artifact(self, artifact: Path) -> None:
        """Refuse an artifact whose bytes are not the ones this spec describes."""
        digest = sha256_file(artifact)
        if self.sha256 and digest != self.sha256:
            raise SpecError(
                f"{artifact}: sha256 {digest[:12]}... does not match its spec ({self.sha256[:12]}...). "
                "The artifact was changed or its spec belongs to another export; export again."
            )


def spec_path(artifact: Path) -> Path:
    """`act.plan` -> `act.plan.json`."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary name beside `path`, then rename: never a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
