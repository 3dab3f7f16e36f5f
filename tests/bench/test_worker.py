"""What the bench worker and the machine description report about a GPU, with fakes (no GPU)."""

from __future__ import annotations

import sys
import types

from act_tool.bench import machine
from act_tool.bench.worker import GpuMemory, Job


def fake_cudart(monkeypatch, free_sequence: list[int]) -> list[str]:
    """cuda.bindings.runtime whose cudaMemGetInfo returns `free_sequence` in turn."""
    calls: list[str] = []
    rt = types.ModuleType("cuda.bindings.runtime")
    rt.cudaError_t = types.SimpleNamespace(cudaSuccess=0)
    frees = iter(free_sequence)

    def mem_get_info():
        calls.append("info")
        return (0, next(frees), 8 << 30)

    rt.cudaFree = lambda ptr: calls.append("context") or (0,)
    rt.cudaMemGetInfo = mem_get_info
    package = types.ModuleType("cuda.bindings")
    package.runtime = rt
    monkeypatch.setitem(sys.modules, "cuda", types.ModuleType("cuda"))
    monkeypatch.setitem(sys.modules, "cuda.bindings", package)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", rt)
    return calls


def job(backend: str, device: str) -> Job:
    return Job(backend, "act.plan", "obs.npz", "out", device=device)


def test_gpu_memory_of_a_non_torch_backend_from_cudamemgetinfo(monkeypatch):
    mib = 1 << 20
    calls = fake_cudart(monkeypatch, [7000 * mib, 6500 * mib, 6200 * mib, 6400 * mib])
    memory = GpuMemory(job("tensorrt", "cuda"))
    assert calls == ["context", "info"], "the context exists before the baseline is taken"
    memory.sample()  # after loading
    memory.sample()  # after the first runs (the lowest)
    assert memory.peak_mb() == 800  # 7000 - 6200 MiB: the most the backend held
    assert "cudaMemGetInfo" in memory.note and "device-wide" in memory.note


def test_gpu_memory_without_cuda_python_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    memory = GpuMemory(job("onnxruntime", "cuda"))
    memory.sample()
    assert memory.peak_mb() is None and "cuda-python not installed" in memory.note


def test_no_gpu_memory_for_a_cpu_backend():
    memory = GpuMemory(job("onnxruntime", "cpu"))
    assert memory.peak_mb() is None and memory.note == ""


def test_gpu_peak_without_torch_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    peak, how = machine.gpu_peak_flops("float32")
    assert peak is None and "torch, which is not installed" in how


def test_jetson_without_nvidia_smi_is_still_described(monkeypatch):
    from act_tool import gpu

    monkeypatch.setattr(machine.shutil, "which", lambda _name: None)
    monkeypatch.setattr(gpu, "compute_capability", lambda: (8, 7))
    info = machine.gpu_info()
    assert info is not None and info["compute_capability"] == "8.7"
    monkeypatch.setattr(gpu, "compute_capability", lambda: None)
    assert machine.gpu_info() is None


def test_cpu_peak_names_the_faster_library():
    peak, how = machine.cpu_peak_flops(n=64, repeats=2)
    assert peak > 0 and "64x64 FP32 matrix product" in how
    assert ("numpy BLAS" in how) and ("ONNX Runtime MLAS" in how)
