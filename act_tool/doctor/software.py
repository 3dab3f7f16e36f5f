"""Python, the installed act-tool extras, and the inference libraries with the GPU they need.

Extras are found by their key modules (importlib.util.find_spec: nothing heavy is imported);
ONNX Runtime and TensorRT are imported for their versions and providers.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from act_tool import gpu, versions
from act_tool.doctor.report import Section, Status
from act_tool.errors import PYTHON_FLOORS
from act_tool.runtime.runners import compat

# extra -> (its key modules, what it is for)
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "export": (("torch", "lerobot", "onnx", "onnxscript"), "train and export"),
    "rtx": (("tensorrt_rtx", "cuda.bindings"), "TensorRT-RTX engines"),
    "tensorrt": (("tensorrt", "cuda.bindings"), "TensorRT engines"),
    "bench": (("matplotlib",), "bench --plot"),
    "sim": (("mujoco",), "the digital twin"),
    "display": (("rerun",), "the live view (--display)"),
    "openvino": (("openvino",), "the OpenVINO CPU runner"),
}
CORE = {"numpy": "numpy", "opencv": "opencv-python-headless", "pyserial": "pyserial"}
PYTHON_TITLE = "Python and act-tool extras"
INFERENCE_TITLE = "Inference: ONNX Runtime, GPU, TensorRT"
VERSIONS_TITLE = "Libraries that decide the numbers"


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def _install_hint(extra: str) -> str:
    for builder, name in gpu.EXTRAS.items():
        if name == extra:
            return gpu.INSTALL_HINTS[builder]
    return f"pip install 'act-tool[{extra}]'"


def python_section(version_info: tuple[int, ...] | None = None) -> Section:
    """The interpreter (`version_info`: this one's), the core packages and each extra:
    installed, partly, or not."""
    section = Section(PYTHON_TITLE)
    info = tuple(version_info or sys.version_info[:3])
    version = ".".join(map(str, info))
    section.add(Status.OK, "Python", f"{version} on {platform.machine()} ({sys.executable})")
    core = {label: _dist_version(dist) for label, dist in CORE.items()}
    missing = [label for label, v in core.items() if not v]
    section.add(
        Status.PROBLEM if missing else Status.OK,
        "core",
        ", ".join(f"{k} {v or 'MISSING'}" for k, v in core.items()),
        "pip install act-tool" if missing else "",
    )
    extras: dict[str, dict[str, object]] = {}
    for extra, (modules, purpose) in EXTRAS.items():
        found = [m for m in modules if gpu.module_installed(m)]
        extras[extra] = {"installed": len(found) == len(modules), "modules": found}
        label = f"[{extra}]"
        if len(found) == len(modules):
            section.add(Status.OK, label, f"{purpose}: {', '.join(modules)}")
        elif (floor := PYTHON_FLOORS.get(extra)) and info[:2] < floor:
            section.add(
                Status.ABSENT,
                label,
                f"{purpose}: needs Python >= {'.'.join(map(str, floor))} (LeRobot's), this is "
                f"{version}: export elsewhere, copy the artifacts here",
            )
        elif modules[0] in found:  # its own library is here, a dependency is not
            absent = [m for m in modules if m not in found]
            section.add(
                Status.PROBLEM,
                label,
                f"{purpose}: partly installed, missing {', '.join(absent)}",
                _install_hint(extra),
            )
        else:
            section.add(Status.ABSENT, label, f"{purpose}: not installed", _install_hint(extra))
    section.data = {"python": version, "executable": sys.executable, "core": core}
    section.data["machine"] = platform.machine()
    section.data["extras"] = extras
    return section


def versions_section() -> Section:
    """The versions of LeRobot, torch, ONNX Runtime, TensorRT(-RTX), OpenVINO and MuJoCo: an
    engine's latency, its parity with LeRobot and a twin episode depend on them, so a reported
    figure names them."""
    section = Section(VERSIONS_TITLE)
    found = versions.library_versions()
    for label, version in found.items():
        if version:
            section.add(Status.OK, label, version)
        else:
            section.add(Status.ABSENT, label, "not installed")
    section.data = {"act_tool": versions.__version__, "libraries": found}
    return section


def inference_section() -> Section:
    """ONNX Runtime and its providers, the GPU and CUDA driver, TensorRT and TensorRT-RTX."""
    section = Section(INFERENCE_TITLE)
    _onnxruntime(section)
    facts = compat.probe_machine()
    cc = facts.compute_capability
    driver = gpu.cuda_driver_version()
    if cc is None:
        section.add(
            Status.ABSENT,
            "GPU",
            "no GPU: no CUDA device answers (ONNX Runtime runs on the CPU; TensorRT needs one)",
        )
    else:
        section.add(
            Status.OK,
            "GPU",
            f"CUDA device 0: compute capability {cc[0]}.{cc[1]} ({gpu.cc_name(cc)})",
        )
    if driver is None:
        section.add(Status.ABSENT, "CUDA driver", "none (libcuda not found)")
    else:
        section.add(Status.OK, "CUDA driver", f"supports CUDA {driver[0]}.{driver[1]}")
    for builder in gpu.BUILDERS:
        version = facts.versions.get(builder, "")
        problem = compat.builder_problem(builder, facts)
        name = "TensorRT" if builder == gpu.TENSORRT else "TensorRT-RTX"
        if not version:
            section.add(Status.ABSENT, name, f"not installed (extra [{gpu.EXTRAS[builder]}])")
        elif problem:
            section.add(Status.ABSENT, name, f"{version}: engines cannot run here: {problem}")
        else:
            section.add(Status.OK, name, f"{version}: builds and runs engines on this GPU")
    section.data.update(
        compute_capability=list(cc) if cc else None,
        cuda_driver=f"{driver[0]}.{driver[1]}" if driver else None,
        tensorrt=facts.versions.get(gpu.TENSORRT) or None,
        tensorrt_rtx=facts.versions.get(gpu.TENSORRT_RTX) or None,
        can_run={b: not compat.builder_problem(b, facts) for b in gpu.BUILDERS},
    )
    return section


def _onnxruntime(section: Section) -> None:
    try:
        import onnxruntime
    except ImportError as e:
        section.add(
            Status.PROBLEM, "ONNX Runtime", f"cannot be imported ({e})", "pip install act-tool"
        )
        section.data["onnxruntime"] = None
        return
    providers = list(onnxruntime.get_available_providers())
    short = ", ".join(p.removesuffix("ExecutionProvider") for p in providers)
    section.add(Status.OK, "ONNX Runtime", f"{onnxruntime.__version__}: {short}")
    section.data["onnxruntime"] = {"version": onnxruntime.__version__, "providers": providers}
