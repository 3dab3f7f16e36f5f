"""Inference latency, accuracy and memory of every backend available here, side by side.

Each backend runs in its own worker process on the same observations (see worker.py). The
baseline is LeRobot eager (its preprocessor, `predict_action_chunk`, postprocessor) on the best
device here; every other backend is reported as a ratio to it, measured in the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from act_tool.bench.worker import Job
from act_tool.spec import EngineSpec, spec_path


@dataclass(frozen=True)
class Candidate:
    """A backend to measure, or one skipped with its reason."""

    name: str  # shown in tables: "onnxruntime cpu"
    precision: str
    device: str
    backend: str = ""
    artifact: Path | None = None
    fp16: bool = False
    cuda_graph: bool = False
    skipped: str = ""  # why it cannot run here


@dataclass
class BackendResult:
    name: str
    precision: str
    device: str
    status: str  # "ok", "skipped", "failed"
    reason: str = ""
    description: str = ""
    latency_ms: dict[str, float] = field(default_factory=dict)
    samples_ms: list[float] = field(default_factory=list)
    ratio_to_baseline: float | None = None
    accuracy: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float | None = None
    gpu_peak_mb: float | None = None
    achieved_gflops: float | None = None
    fraction_of_peak: float | None = None


def have_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def cuda_available() -> bool:
    if not have_module("torch"):
        return False
    import torch

    return torch.cuda.is_available()


def ort_cuda_available() -> bool:
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def candidates(
    checkpoint: Path | None, onnx: Path | None, engines: list[Path], gpu: bool
) -> list[Candidate]:
    """Every backend worth measuring, in table order; the first measured one is the baseline."""
    out: list[Candidate] = []
    dev = "cuda" if gpu else "cpu"
    have_lerobot = have_module("lerobot") and have_module("torch")
    if checkpoint is None:
        out.append(Candidate("lerobot eager", "fp32", dev, skipped="no --checkpoint given"))
    elif not have_lerobot:
        out.append(
            Candidate(
                "lerobot eager",
                "fp32",
                dev,
                skipped="lerobot/torch not installed (pip install 'act-tool[export]')",
            )
        )
    else:
        out.append(Candidate("lerobot eager", "fp32", dev, "lerobot", checkpoint))
        out.append(Candidate(f"act-tool torch {dev}", "fp32", dev, "torch", checkpoint))
        if gpu:
            out.append(
                Candidate(
                    "act-tool torch cuda fp16+graph",
                    "fp16",
                    "cuda",
                    "torch",
                    checkpoint,
                    fp16=True,
                    cuda_graph=True,
                )
            )
        else:
            out.append(
                Candidate("act-tool torch cuda fp16+graph", "fp16", "cuda", skipped="no CUDA GPU")
            )
    if onnx is None:
        out.append(Candidate("onnxruntime cpu", "fp32", "cpu", skipped="no ONNX model"))
    else:
        out.append(Candidate("onnxruntime cpu", "fp32", "cpu", "onnxruntime", onnx))
        if gpu and ort_cuda_available():
            out.append(Candidate("onnxruntime cuda", "fp32", "cuda", "onnxruntime", onnx))
        else:
            out.append(
                Candidate(
                    "onnxruntime cuda",
                    "fp32",
                    "cuda",
                    skipped="no CUDA GPU" if not gpu else "onnxruntime-gpu not installed",
                )
            )
    trt = have_module("tensorrt") or have_module("tensorrt_rtx")
    by_precision = {EngineSpec.read(spec_path(e)).precision: e for e in engines}
    for precision in ("fp32", "fp16"):
        name = f"tensorrt {precision}"
        engine = by_precision.get(precision)
        if engine is None:
            reason = (
                "no engine"
                if gpu and trt
                else ("no CUDA GPU" if not gpu else "TensorRT not installed")
            )
            out.append(Candidate(name, precision, "cuda", skipped=reason))
        elif not gpu:
            out.append(Candidate(name, precision, "cuda", skipped="no CUDA GPU to run the engine"))
        else:
            out.append(Candidate(name, precision, "cuda", "tensorrt", engine, cuda_graph=True))
    return out


def run_worker(
    c: Candidate, observations: Path, work: Path, warmup: int, repeats: int, timeout_s: float
) -> dict:
    stem = work / c.name.replace(" ", "_").replace("+", "_")
    job = Job(
        c.backend,
        str(c.artifact),
        str(observations),
        str(stem),
        warmup,
        repeats,
        c.device,
        c.fp16,
        c.cuda_graph,
    )
    job.write(stem.with_suffix(".job.json"))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "act_tool.bench.worker", str(stem.with_suffix(".job.json"))],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    result_file = Path(str(stem) + ".json")
    if not result_file.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"worker exited with {proc.returncode}: {' | '.join(tail)}"}
    result = json.loads(result_file.read_text())
    if "error" not in result:
        result["actions"] = np.load(str(stem) + ".npz")["actions"]
    return result


def summarize(samples_s: list[float]) -> dict[str, float]:
    a = np.asarray(samples_s) * 1e3
    return {q: float(np.percentile(a, p)) for q, p in (("p50", 50), ("p90", 90), ("p99", 99))} | {
        "max": float(a.max()),
        "n": len(a),
    }


def measure(
    cands: list[Candidate],
    observations: Path,
    work: Path,
    action_std: np.ndarray,
    flops: int | None,
    peaks: dict[str, float | None],
    warmup: int = 5,
    repeats: int = 50,
    timeout_s: float = 900,
    log: Callable[[str], None] = print,
) -> list[BackendResult]:
    results: list[BackendResult] = []
    baseline_actions = baseline_p50 = None
    for c in cands:
        r = BackendResult(c.name, c.precision, c.device, "skipped", reason=c.skipped)
        results.append(r)
        if c.skipped:
            log(f"  {c.name:<32} skipped: {c.skipped}")
            continue
        log(f"  {c.name:<32} measuring ({warmup} warm-up, {repeats} runs) ...")
        raw = run_worker(c, observations, work, warmup, repeats, timeout_s)
        if "error" in raw:
            r.status, r.reason = "failed", raw["error"]
            log(f"  {c.name:<32} FAILED: {r.reason}")
            continue
        r.status, r.description = "ok", raw["description"]
        r.latency_ms = summarize(raw["latencies_s"])
        r.samples_ms = [x * 1e3 for x in raw["latencies_s"]]
        r.peak_rss_mb, r.gpu_peak_mb = raw["peak_rss_mb"], raw["gpu_peak_mb"]
        actions = raw["actions"]
        if baseline_actions is None:
            baseline_actions, baseline_p50 = actions, r.latency_ms["p50"]
        err = np.abs(actions.astype(np.float64) - baseline_actions)
        per_dim_max = err.reshape(-1, err.shape[-1]).max(axis=0)
        r.accuracy = {
            "max_abs": float(per_dim_max.max()),
            "mean_abs": float(err.mean()),
            "max_rel": float((per_dim_max / action_std).max()),
        }
        r.ratio_to_baseline = r.latency_ms["p50"] / baseline_p50
        if flops:
            r.achieved_gflops = flops / (r.latency_ms["p50"] / 1e3) / 1e9
            peak = peaks.get(f"{c.device}_{c.precision}") or peaks.get(f"{c.device}_fp32")
            if peak:
                r.fraction_of_peak = r.achieved_gflops * 1e9 / peak
    return results
