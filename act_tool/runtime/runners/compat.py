"""Does a TensorRT plan's spec fit this machine? Checked before the plan is deserialized.

A plan loads only with the library and version that built it, and (enterprise TensorRT) only on
the GPU model it was built for; TensorRT-RTX plans are portable across Ampere and later RTX GPUs
unless built for explicit targets. A mismatch is refused with the command that rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from act_tool.errors import MissingDependencyError, SpecError
from act_tool.spec import EngineSpec

MODULES = {"tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx"}
EXTRAS = {"tensorrt": "tensorrt", "tensorrt-rtx": "rtx"}
# TensorRT-RTX "portable" plans: Ampere and later, not datacenter Hopper (sm_90).
PORTABLE_MIN = (8, 0)
PORTABLE_EXCLUDED = ((9, 0),)


@dataclass(frozen=True)
class MachineFacts:
    """What this machine offers a plan: the library version per builder, and the GPU."""

    versions: dict[str, str]  # builder name -> installed version ("" when not installed)
    compute_capability: tuple[int, int] | None  # None: no CUDA GPU


def probe_machine() -> MachineFacts:
    """The installed TensorRT libraries (imported) and the GPU's compute capability."""
    import importlib
    import importlib.util

    from act_tool.export.engine import gpu_compute_capability

    versions = {}
    for builder, module in MODULES.items():
        version = ""
        if importlib.util.find_spec(module) is not None:
            try:
                version = str(importlib.import_module(module).__version__)
            except ImportError:
                version = ""
        versions[builder] = version
    return MachineFacts(versions, gpu_compute_capability())


def rebuild_hint(spec: EngineSpec, artifact: Path) -> str:
    source = spec.source_checkpoint or "<checkpoint>"
    return (
        f"Rebuild the engine on this machine: act-tool export {source} "
        f"--builder {spec.builder} -o {Path(artifact).parent}"
    )


def parse_target(target: str) -> list[tuple[int, int]]:
    """ "sm_89" or "sm_75,sm_86" -> [(8, 9)] / [(7, 5), (8, 6)]."""
    out = []
    for part in target.split(","):
        digits = part.strip().removeprefix("sm_")
        if not digits.isdigit() or len(digits) < 2:
            raise SpecError(f"spec target {target!r} is not 'portable' or 'sm_XY[,sm_XY...]'")
        out.append((int(digits[:-1]), int(digits[-1])))
    return out


def check_plan(spec: EngineSpec, artifact: Path, facts: MachineFacts) -> str:
    """Raise unless `artifact` can load here; return the builder's module name."""
    artifact = Path(artifact)
    if spec.builder not in MODULES:
        raise SpecError(
            f"{artifact}: its spec says builder {spec.builder!r}, not a TensorRT engine. "
            f"Run the .onnx file with --backend onnxruntime, or {rebuild_hint(spec, artifact)}"
        )
    version = facts.versions.get(spec.builder, "")
    if not version:
        raise MissingDependencyError(
            MODULES[spec.builder], EXTRAS[spec.builder], f"Running {artifact.name}"
        )
    hint = rebuild_hint(spec, artifact)
    if version != spec.builder_version:
        raise SpecError(
            f"{artifact}: built with {spec.builder} {spec.builder_version or '(unknown)'}, but "
            f"{spec.builder} {version} is installed here; a plan only loads with the version that "
            f"built it. Install {spec.builder} {spec.builder_version}, or {hint}"
        )
    cc = facts.compute_capability
    if cc is None:
        raise SpecError(
            f"{artifact}: a TensorRT engine needs a CUDA GPU and none was found on this machine. "
            "Run the .onnx artifact with ONNX Runtime instead (--backend onnxruntime)."
        )
    here = f"sm_{cc[0]}{cc[1]}"
    if spec.target == "portable":
        if spec.builder == "tensorrt":
            raise SpecError(f"{artifact}: an enterprise TensorRT plan cannot be 'portable'. {hint}")
        if cc < PORTABLE_MIN or cc in PORTABLE_EXCLUDED:
            raise SpecError(
                f"{artifact}: a portable TensorRT-RTX plan runs on Ampere and later RTX GPUs, and "
                f"this GPU is {here}. {hint}"
            )
    elif cc not in parse_target(spec.target):
        raise SpecError(
            f"{artifact}: built for {spec.target}, but this GPU is {here}; TensorRT plans load "
            f"only on the GPU model they were built for. {hint}"
        )
    if spec.sha256:
        try:
            spec.verify_artifact(artifact)
        except SpecError as e:
            raise SpecError(f"{e} {hint}") from e
    return MODULES[spec.builder]
