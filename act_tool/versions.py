"""act-tool's version and the versions of the libraries that decide its numbers.

Read from the installed distributions' metadata: nothing is imported, so `act-tool --version`
answers at once, in the core install too.
"""

from __future__ import annotations

import platform
from importlib import metadata

from act_tool import __version__

# label -> the distributions that provide it, first found wins (a CUDA build of ONNX Runtime,
# TensorRT's CUDA 12 wheels, ...)
LIBRARIES: dict[str, tuple[str, ...]] = {
    "LeRobot": ("lerobot",),
    "torch": ("torch",),
    "ONNX Runtime": ("onnxruntime", "onnxruntime-gpu"),
    "TensorRT": ("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt-cu12-libs"),
    "TensorRT-RTX": ("tensorrt-rtx", "tensorrt_rtx"),
    "OpenVINO": ("openvino",),
    "MuJoCo": ("mujoco",),
}


def library_versions() -> dict[str, str]:
    """Each library's installed version, "" where it is not installed."""
    found: dict[str, str] = {}
    for label, dists in LIBRARIES.items():
        found[label] = ""
        for dist in dists:
            try:
                found[label] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def version_text() -> str:
    """What `act-tool --version` prints: act-tool's version, then one library a line."""
    lines = [f"act-tool {__version__} (Python {platform.python_version()})"]
    for label, version in library_versions().items():
        lines.append(f"  {label:<13} {version or 'not installed'}")
    return "\n".join(lines)
