"""GPU and TensorRT facts, once, for the builder (export) and the runtime alike.

- the compute capability of CUDA device 0 (`compute_capability`: cuda-python when installed, else
  the CUDA driver library through ctypes; never torch), and its `sm_XY` spelling;
- the CUDA version the driver supports (`cuda_driver_version`, libcuda through ctypes);
- the TensorRT builders: their Python modules (`tensorrt`, `tensorrt_rtx`, one API), the extras
  that install them, install hints, which are installed here, and which GPUs TensorRT-RTX serves;
- the one TensorRT logger a process gives each of those modules.

Standard library only (ctypes); tensorrt and cuda-python are imported only when asked.
Callers use `gpu.compute_capability()` through the module, so a test patches it once.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
from collections import deque
from typing import Any

CC = tuple[int, int]  # (major, minor), e.g. (8, 9)

TENSORRT = "tensorrt"
TENSORRT_RTX = "tensorrt-rtx"
BUILDERS = (TENSORRT, TENSORRT_RTX)  # enterprise first: preferred where both can serve
MODULES = {TENSORRT: "tensorrt", TENSORRT_RTX: "tensorrt_rtx"}  # builder -> Python module
EXTRAS = {TENSORRT: "tensorrt", TENSORRT_RTX: "rtx"}  # builder -> act-tool extra
INSTALL_HINTS = {
    TENSORRT: (
        "pip install 'act-tool[tensorrt]' --extra-index-url https://pypi.nvidia.com "
        "(needs NVIDIA's package index and a CUDA GPU to build)"
    ),
    TENSORRT_RTX: "pip install 'act-tool[rtx]' (builds portable engines without a GPU)",
}
PORTABLE = "portable"  # a TensorRT-RTX plan built for no particular GPU

# TensorRT-RTX, from NVIDIA's support matrix (1.0-1.7): RTX-class GPUs only, 7.5 (Turing), 8.6
# (Ampere RTX), 8.9 (Ada), 12.0 (Blackwell RTX) and, from 1.5, 12.1 (GB10); not datacenter
# Ampere (8.0), Jetson Orin (8.7), Hopper (9.0) or Blackwell (10.x). Its portable plans cover
# 8.6, 8.9 and 12.0; Turing needs a plan built for it.
RTX_SUPPORTED: tuple[CC, ...] = ((7, 5), (8, 6), (8, 9), (12, 0), (12, 1))
RTX_PORTABLE: tuple[CC, ...] = ((8, 6), (8, 9), (12, 0))

# --- compute capability -------------------------------------------------------------------------


def cc_name(cc: CC) -> str:
    """(8, 9) -> "sm_89"."""
    return f"sm_{cc[0]}{cc[1]}"


def parse_cc(text: str) -> CC | None:
    """ "sm_89", "sm89", "SM89" or "8.9" -> (8, 9); "sm_121" -> (12, 1). None if malformed."""
    t = text.strip().lower()
    if "." in t:
        major, _, minor = t.partition(".")
        ok = major.isdigit() and minor.isdigit() and len(minor) == 1
        return (int(major), int(minor)) if ok else None
    digits = t.removeprefix("sm").lstrip("_")
    if not digits.isdigit() or len(digits) < 2:
        return None
    return int(digits[:-1]), int(digits[-1])


def compute_capability() -> CC | None:
    """Compute capability of CUDA device 0, or None without a usable NVIDIA GPU. No torch:
    cuda-python when installed, else the driver library (libcuda) through ctypes."""
    return _cc_from_cuda_bindings() or _cc_from_driver()


def _cc_from_cuda_bindings() -> CC | None:
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


def _load_driver() -> ctypes.CDLL | None:
    """The CUDA driver library (libcuda / nvcuda), or None where there is none."""
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def cuda_driver_version() -> tuple[int, int] | None:
    """The CUDA version the installed driver supports (cuDriverGetVersion: 12040 -> (12, 4)),
    or None without a driver. Needs no GPU to answer and no cuInit."""
    cuda = _load_driver()
    version = ctypes.c_int()
    if cuda is None or cuda.cuDriverGetVersion(ctypes.byref(version)) != 0 or version.value <= 0:
        return None
    return version.value // 1000, (version.value % 1000) // 10


def _cc_from_driver() -> CC | None:
    """Device 0's compute capability through the CUDA driver library; None without one."""
    cuda = _load_driver()
    if cuda is None:
        return None
    count, major, minor, device = ctypes.c_int(), ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value < 1:
        return None
    if cuda.cuDeviceGet(ctypes.byref(device), 0) != 0:
        return None
    # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76
    if cuda.cuDeviceGetAttribute(ctypes.byref(major), 75, device) != 0:
        return None
    if cuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, device) != 0:
        return None
    return major.value, minor.value


# --- TensorRT libraries -------------------------------------------------------------------------


def module_installed(module: str) -> bool:
    """True when `module` can be imported (found on the path; not imported, so this is cheap)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def installed_builders() -> list[str]:
    """The TensorRT builders installed here, enterprise first (import probing only)."""
    return [b for b in BUILDERS if module_installed(MODULES[b])]


def installed_version(builder: str) -> str:
    """The version of `builder`'s module (imported), "" when it is not installed."""
    if not module_installed(MODULES[builder]):
        return ""
    try:
        return str(importlib.import_module(MODULES[builder]).__version__)
    except ImportError:
        return ""


def rtx_targets() -> tuple[CC, ...] | None:
    """The compute capabilities the installed tensorrt_rtx can target (its ComputeCapability
    enum, e.g. SM75 ... SM121); None when it is not installed."""
    try:
        trt = importlib.import_module(MODULES[TENSORRT_RTX])
    except ImportError:
        return None
    names = [n for n in dir(getattr(trt, "ComputeCapability", ())) if n.startswith("SM")]
    return tuple(sorted(cc for n in names if (cc := parse_cc(n)) is not None))


# Messages TensorRT-RTX logs on every builder creation that signal nothing wrong.
_NOISE = ("Thread context has not been set",)
WARNING = 2  # trt.ILogger.Severity.WARNING; INTERNAL_ERROR 0 and ERROR 1 are worse
_LOGGERS: dict[str, Any] = {}  # module name -> its process-wide CollectingLogger


def shared_logger(trt: Any) -> Any:
    """The one trt.ILogger this process gives `trt` (tensorrt or tensorrt_rtx).

    TensorRT keeps the first logger registered in a process and ignores later ones (it warns
    "The logger passed into createInferBuilder differs from one already registered"), so a
    logger per build would hear nothing after the first. Every Builder and Runtime gets this one.
    It keeps messages of severity WARNING or worse in `messages`, (severity, text) pairs.
    """
    key = trt.__name__
    if key not in _LOGGERS:

        class CollectingLogger(trt.ILogger):
            def __init__(self) -> None:
                trt.ILogger.__init__(self)
                self.messages: deque[tuple[int, str]] = deque(maxlen=1000)

            def log(self, severity: Any, msg: str) -> None:
                if not msg.startswith(_NOISE) and int(severity) <= WARNING:
                    self.messages.append((int(severity), msg))

        _LOGGERS[key] = CollectingLogger()
    return _LOGGERS[key]
