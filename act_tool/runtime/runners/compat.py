"""Does a TensorRT plan's spec fit this machine? Checked before the plan is deserialized.

A plan loads only with the library and version that built it, and (enterprise TensorRT) only on
the GPU model it was built for. TensorRT-RTX runs on RTX-class GPUs only: NVIDIA's support matrix
lists compute capability 7.5 (Turing), 8.6 (Ampere RTX), 8.9 (Ada), 12.0 (Blackwell RTX) and,
from 1.5, 12.1 (GB10); not datacenter Ampere (8.0), Jetson Orin (8.7), Hopper (9.0) or Blackwell
(10.x). Its default ("portable") plans cover 8.6, 8.9 and 12.0; Turing needs a plan built for it.
A mismatch is refused with the command that rebuilds it.

Everything here is torch-free: the GPU is found through cuda-python (`cuda.bindings`) when it is
installed, else through the CUDA driver library itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from act_tool.errors import ActToolError, MissingDependencyError, SpecError
from act_tool.spec import EngineSpec

MODULES = {"tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx"}
EXTRAS = {"tensorrt": "tensorrt", "tensorrt-rtx": "rtx"}
# TensorRT-RTX, from NVIDIA's support matrix (1.0-1.7).
RTX_SUPPORTED = ((7, 5), (8, 6), (8, 9), (12, 0), (12, 1))
RTX_PORTABLE = ((8, 6), (8, 9), (12, 0))


@dataclass(frozen=True)
class MachineFacts:
    """What this machine offers a plan: the library version per builder, and the GPU."""

    versions: dict[str, str]  # builder name -> installed version ("" when not installed)
    compute_capability: tuple[int, int] | None  # None: no CUDA GPU
    rtx_targets: tuple[tuple[int, int], ...] | None = None  # tensorrt_rtx.ComputeCapability


def cc_name(cc: tuple[int, int]) -> str:
    return f"sm_{cc[0]}{cc[1]}"


def _cc_from_cuda_bindings() -> tuple[int, int] | None:
    """Device 0's compute capability through cuda-python's runtime API; None if unusable."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        return None
    try:
        err, count = cudart.cudaGetDeviceCount()
        if err != cudart.cudaError_t.cudaSuccess or count < 1:
            return None  # no device, or a driver older than these bindings: ask the driver
        attr = cudart.cudaDeviceAttr
        err1, major = cudart.cudaDeviceGetAttribute(attr.cudaDevAttrComputeCapabilityMajor, 0)
        err2, minor = cudart.cudaDeviceGetAttribute(attr.cudaDevAttrComputeCapabilityMinor, 0)
    except Exception:  # a broken install: fall back to the driver
        return None
    if err1 != cudart.cudaError_t.cudaSuccess or err2 != cudart.cudaError_t.cudaSuccess:
        return None
    return int(major), int(minor)


def cuda_compute_capability() -> tuple[int, int] | None:
    """Compute capability of CUDA device 0, or None without a usable NVIDIA GPU. No torch:
    cuda-python when installed, else the driver library (libcuda) through ctypes."""
    from act_tool.export.engine import gpu_compute_capability

    return _cc_from_cuda_bindings() or gpu_compute_capability()


def rtx_targets() -> tuple[tuple[int, int], ...] | None:
    """The compute capabilities the installed tensorrt_rtx can target (its ComputeCapability
    enum, e.g. SM75 ... SM121); None when it is not installed."""
    import importlib

    try:
        trt = importlib.import_module("tensorrt_rtx")
    except ImportError:
        return None
    names = [n for n in dir(getattr(trt, "ComputeCapability", ())) if n.startswith("SM")]
    return tuple(sorted((int(n[2:-1]), int(n[-1])) for n in names if n[2:].isdigit()))


def probe_machine() -> MachineFacts:
    """The installed TensorRT libraries (imported) and the GPU's compute capability."""
    import importlib
    import importlib.util

    versions = {}
    for builder, module in MODULES.items():
        version = ""
        if importlib.util.find_spec(module) is not None:
            try:
                version = str(importlib.import_module(module).__version__)
            except ImportError:
                version = ""
        versions[builder] = version
    targets = rtx_targets() if versions["tensorrt-rtx"] else None
    return MachineFacts(versions, cuda_compute_capability(), targets)


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
    if spec.target == "portable":
        if spec.builder == "tensorrt":
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
    if builder == "tensorrt-rtx":
        return rtx_gpu_problem(facts.compute_capability, facts, portable=True)
    return ""
