"""What machine a benchmark ran on, and its measured peak (a large matrix product)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

# c = a @ b, float32, any sizes: written by onnx (tests/bench/test_peak_model.py checks it).
PEAK_MODEL = Path(__file__).with_name("matmul.onnx")
# c = a @ b, uint8 x int8 -> int32 (MatMulInteger): the INT8 peak's model, also written by onnx.
PEAK_INT8_MODEL = Path(__file__).with_name("matmul_int8.onnx")
LIBRARIES = (
    "act-tool",
    "numpy",
    "onnxruntime",
    "onnxruntime-gpu",
    "onnx",
    "torch",
    "lerobot",
    "tensorrt",
    "tensorrt-cu12",
    "tensorrt-cu13",
    "tensorrt-rtx",
    "tensorrt_rtx",
    "cuda-bindings",
    "openvino",
)


def cpu_model() -> str:
    """The CPU's name: x86's "model name"; on ARM boards, which have none, the board's name from
    the device tree ("Raspberry Pi 5 Model B Rev 1.0", "NVIDIA Jetson AGX Orin ...") and the
    architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        board = Path("/proc/device-tree/model").read_bytes().rstrip(b"\0").decode(errors="replace")
    except OSError:
        board = ""
    arch = platform.machine()
    return f"{board} ({arch})" if board else platform.processor() or arch


def gpu_info() -> dict[str, str] | None:
    """Name, driver and memory of the first NVIDIA GPU, from nvidia-smi (or, where there is none,
    as on a Jetson, its compute capability from the driver); None without one."""
    if shutil.which("nvidia-smi") is None:
        from act_tool import gpu

        cc = gpu.compute_capability()
        if cc is None:
            return None
        return {
            "name": f"CUDA GPU (compute capability {cc[0]}.{cc[1]}; no nvidia-smi)",
            "driver": "",
            "memory": "",
            "compute_capability": f"{cc[0]}.{cc[1]}",
        }
    try:
        out = (
            subprocess.run(
                [
                    "nvidia-smi",
                    "--query-gpu=name,driver_version,memory.total,compute_cap",
                    "--format=csv,noheader",
                ],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
            .stdout.strip()
            .splitlines()
        )
    except (subprocess.SubprocessError, OSError):
        return None
    if not out:
        return None
    name, driver, memory, cc = (x.strip() for x in out[0].split(","))
    return {"name": name, "driver": driver, "memory": memory, "compute_capability": cc}


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def describe() -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "gpu": gpu_info(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": library_versions(),
    }


def best_seconds(run, repeats: int) -> float:
    """The fastest of `repeats` timed calls of `run`, after one untimed warm-up call."""
    run()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t)
    return best


def cpu_peak_flops(n: int = 2048, repeats: int = 5) -> tuple[float, str]:
    """Best achieved FP32 FLOP/s of an n x n matrix product on this CPU, and which library gave
    it: the faster of numpy's BLAS and ONNX Runtime's MLAS (which uses AVX-512 where OpenBLAS
    wheels may not). ONNX Runtime runs PEAK_MODEL, shipped with act-tool (no `onnx` needed)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty_like(a)
    candidates = {"numpy BLAS": lambda: np.matmul(a, b, out=out)}
    try:
        import onnxruntime as ort
    except ImportError:
        pass
    else:
        session = ort.InferenceSession(str(PEAK_MODEL), providers=["CPUExecutionProvider"])
        candidates["ONNX Runtime MLAS"] = lambda: session.run(None, {"a": a, "b": b})
    best, winner = float("inf"), ""
    for name, run in candidates.items():
        seconds = best_seconds(run, repeats)
        if seconds < best:
            best, winner = seconds, name
    others = ", ".join(k for k in candidates if k != winner)
    how = f"{n}x{n} FP32 matrix product, {winner}" + (f" (faster than {others})" if others else "")
    return 2 * n**3 / best, how


def cpu_int8_peak_ops(n: int = 2048, repeats: int = 5) -> tuple[float | None, str]:
    """Best achieved INT8 multiply-add rate (2 ops each) of an n x n uint8 x int8 -> int32
    matrix product in ONNX Runtime (MLAS, the kernels an INT8 artifact's QDQ MatMul and Conv
    use: VNNI or AVX-512 where the CPU has them, else AVX2, NEON dot products on ARM); (None,
    reason) without ONNX Runtime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None, "skipped: ONNX Runtime is not installed"
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (n, n), dtype=np.uint8)
    b = rng.integers(-64, 64, (n, n), dtype=np.int8)  # 7-bit weights, as export --int8 writes
    session = ort.InferenceSession(str(PEAK_INT8_MODEL), providers=["CPUExecutionProvider"])
    best = best_seconds(lambda: session.run(None, {"a": a, "b": b}), repeats)
    return 2 * n**3 / best, f"{n}x{n} uint8 x int8 matrix product, ONNX Runtime MLAS"


def gpu_peak_flops(
    dtype: str = "float16", n: int = 8192, repeats: int = 10
) -> tuple[float | None, str]:
    """Best achieved FLOP/s of an n x n matrix product on the CUDA GPU (torch), and how it was
    measured; (None, reason) without torch or a GPU it sees. FP32 is measured with TF32 tensor
    cores allowed: the most an FP32 backend can reach when it lets them round its inputs to TF32
    (TensorRT does by default; strict FP32 peaks several times lower)."""
    try:
        import torch
    except ImportError:
        return None, "skipped: the GPU peak is measured with torch, which is not installed"
    if not torch.cuda.is_available():
        return None, "skipped: torch sees no CUDA GPU (a CPU-only torch build?)"
    dt = getattr(torch, dtype)
    matmul = torch.backends.cuda.matmul
    saved = matmul.allow_tf32
    matmul.allow_tf32 = dtype == "float32"
    try:
        a = torch.randn(n, n, device="cuda", dtype=dt)
        b = torch.randn(n, n, device="cuda", dtype=dt)
        torch.matmul(a, b)
        torch.cuda.synchronize()
        best = float("inf")
        for _ in range(repeats):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            torch.matmul(a, b)
            end.record()
            torch.cuda.synchronize()
            best = min(best, start.elapsed_time(end) / 1e3)
    finally:
        matmul.allow_tf32 = saved
    how = f"{n}x{n} {dtype} matrix product, torch"
    if dtype == "float32":
        how += ", TF32 tensor cores allowed (the peak an FP32 backend could reach)"
    return 2 * n**3 / best, how
