"""Does a TensorRT plan's spec fit this machine? Checked before the plan is deserialized.

A plan loads only with the library and version that built it, and (enterprise TensorRT) only on
the GPU model it was built for. TensorRT-RTX runs on RTX-class GPUs only, and its default
("portable") plans on some of them (act_tool.gpu: RTX_SUPPORTED, RTX_PORTABLE). A mismatch is
refused with the command that rebuilds it.

Everything here is torch-free: the GPU and the libraries are found through act_tool.gpu.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from act_tool import gpu
from act_tool.errors import ActToolError, MissingDependencyError, SpecError
from act_tool.gpu import EXTRAS, MODULES, RTX_PORTABLE, RTX_SUPPORTED, cc_name
from act_tool.spec import EngineSpec


@dataclass(frozen=True)
class MachineFacts:
    """What this machine offers a plan: the library version per builder, and the GPU."""

    versions: dict[str, str]  # builder name -> installed version ("" when not installed)
    compute_capability: tuple[int, int] | None  # None: no CUDA GPU
    rtx_targets: tuple[tuple[int, int], ...] | None = None  # tensorrt_rtx.ComputeCapability


def probe_machine() -> MachineFacts:
    """The installed TensorRT libraries (imported) and the GPU's compute capability."""
    versions = {builder: gpu.installed_version(builder) for builder in MODULES}
    targets = gpu.rtx_targets() if versions[gpu.TENSORRT_RTX] else None
    return MachineFacts(versions, gpu.compute_capability(), targets)


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
        cc = gpu.parse_cc(part)
        if cc is None:
            raise SpecError(f"spec target {target!r} is not 'portable' or 'sm_XY[,sm_XY...]'")
        out.append(cc)
    return out


def rtx_gpu_problem(cc: tuple[int, int], facts: MachineFacts, portable: bool) -> str:
    """Why a TensorRT-RTX plan (portable, or built for this GPU) cannot run on GPU `cc`; ""
    when it can."""
    supported = [c for c in RTX_SUPPORTED if facts.rtx_targets is None or c in facts.rtx_targets]
    if cc not in supported:
        return (
            f"TensorRT-RTX runs on RTX-class GPUs ({', '.join(map(cc_name, supported))}); this GPU "
            f"is {cc_name(cc)}. Use enterprise TensorRT (--builder tensorrt) or ONNX Runtime."
        )
    if portable and cc not in RTX_PORTABLE:
        return (
            f"a portable TensorRT-RTX plan runs on {', '.join(map(cc_name, RTX_PORTABLE))}; this "
            f"GPU is {cc_name(cc)} and needs a plan built for it. Use enterprise TensorRT "
            "(--builder tensorrt) or ONNX Runtime."
        )
    return ""


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
    here = cc_name(cc)
    if spec.target == gpu.PORTABLE:
        if spec.builder == gpu.TENSORRT:
            raise SpecError(f"{artifact}: an enterprise TensorRT plan cannot be 'portable'. {hint}")
        problem = rtx_gpu_problem(cc, facts, portable=True)
        if problem:
            raise SpecError(f"{artifact}: {problem}")
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


def plan_problem(spec: EngineSpec, artifact: Path, facts: MachineFacts | None = None) -> str:
    """Why `artifact` cannot run here ("" when it can): check_plan's verdict as a reason."""
    try:
        check_plan(spec, artifact, facts or probe_machine())
    except ActToolError as e:
        return str(e)
    return ""


def builder_problem(builder: str, facts: MachineFacts | None = None) -> str:
    """Why an engine built here with `builder` (as `act-tool export` builds it: enterprise for
    this GPU, TensorRT-RTX portable) could not run on this machine; "" when it could."""
    facts = facts or probe_machine()
    if builder not in MODULES:
        return f"unknown builder {builder!r}"
    if not facts.versions.get(builder):
        return f"{builder} not installed (pip install 'act-tool[{EXTRAS[builder]}]')"
    if facts.compute_capability is None:
        return "no CUDA GPU"
    if builder == gpu.TENSORRT_RTX:
        return rtx_gpu_problem(facts.compute_capability, facts, portable=True)
    return ""
