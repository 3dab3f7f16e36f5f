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
    gpu_memory_note: str = ""  # how gpu_peak_mb was measured, or why it is absent
    achieved_gflops: float | None = None
    fraction_of_peak: float | None = None


def have_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def cuda_available() -> bool:
    """A CUDA GPU here, found without torch (cuda-python, else the driver library)."""
    from act_tool import gpu

    return gpu.compute_capability() is not None


def torch_cuda_problem() -> str:
    """Why torch cannot use the GPU here ("" when it can)."""
    import torch

    return "" if torch.cuda.is_available() else "torch sees no CUDA GPU (a CPU-only torch build?)"


def ort_cuda_available() -> bool:
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def candidates(
    checkpoint: Path | None,
    onnx: Path | None,
    engines: list[Path],
    gpu: bool,
    engine_notes: dict[str, str] | None = None,
    facts=None,
) -> list[Candidate]:
    """Every backend worth measuring, in table order; the first measured one is the baseline.

    `engine_notes`: precision -> why no engine of that precision exists (a failed build, a
    builder whose engines cannot run on this GPU). `facts`: runners.compat.MachineFacts (probed
    when None and an engine is given)."""
    out: list[Candidate] = []
    have_lerobot = have_module("lerobot") and have_module("torch")
    torch_problem = ("no CUDA GPU" if not gpu else torch_cuda_problem()) if have_lerobot else ""
    dev = "cuda" if gpu and not torch_problem else "cpu"
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
        name = "act-tool torch cuda fp16+graph"
        if torch_problem:
            out.append(Candidate(name, "fp16", "cuda", skipped=torch_problem))
        else:
            out.append(
                Candidate(name, "fp16", "cuda", "torch", checkpoint, fp16=True, cuda_graph=True)
            )
    precision = artifact_precision(onnx) if onnx is not None else "fp32"
    tag = "" if precision == "fp32" else f" {precision}"  # rows name the artifact's precision
    if onnx is None:
        out.append(Candidate("onnxruntime cpu", "fp32", "cpu", skipped="no ONNX model"))
    else:
        out.append(Candidate(f"onnxruntime cpu{tag}", precision, "cpu", "onnxruntime", onnx))
        if gpu and ort_cuda_available():
            out.append(Candidate(f"onnxruntime cuda{tag}", precision, "cuda", "onnxruntime", onnx))
        else:
            out.append(
                Candidate(
                    f"onnxruntime cuda{tag}",
                    precision,
                    "cuda",
                    skipped="no CUDA GPU" if not gpu else "onnxruntime-gpu not installed",
                )
            )
    out.append(openvino_candidate(onnx, precision))
    if precision != "int8":  # an INT8 --onnx is measured above, not a second time
        out += int8_candidates(onnx)
    out += engine_candidates(engines, gpu, engine_notes or {}, facts)
    return out


def artifact_precision(onnx: Path) -> str:
    """The precision an ONNX artifact's spec names (fp32 where it has none to read)."""
    from act_tool.errors import ActToolError

    try:
        return EngineSpec.read(spec_path(onnx)).precision
    except (ActToolError, OSError, ValueError):
        return "fp32"


def int8_candidates(onnx: Path | None) -> list[Candidate]:
    """The INT8 artifact beside act.onnx (`export --int8 --dataset DIR` writes act.int8.onnx) on
    ONNX Runtime and OpenVINO, or both skipped with why."""
    names = ("onnxruntime cpu int8", "openvino cpu int8")
    int8 = onnx.with_name("act.int8.onnx") if onnx is not None else None
    if int8 is None or not int8.exists():
        why = (
            "no ONNX model"
            if onnx is None
            else f"no act.int8.onnx beside {onnx.name} (act-tool export --int8 --dataset DIR writes it)"
        )
        return [Candidate(name, "int8", "cpu", skipped=why) for name in names]
    return [
        Candidate(names[0], "int8", "cpu", "onnxruntime", int8),
        openvino_candidate(int8, "int8"),
    ]


def openvino_candidate(onnx: Path | None, precision: str = "fp32") -> Candidate:
    """OpenVINO on the CPU for an ONNX artifact, or skipped with why (no artifact, no openvino)."""
    name = "openvino cpu" if precision == "fp32" else f"openvino cpu {precision}"
    if onnx is None:
        return Candidate(name, precision, "cpu", skipped="no ONNX model")
    if not have_module("openvino"):
        reason = "openvino is not installed: pip install 'act-tool[openvino]'"
        return Candidate(name, precision, "cpu", skipped=reason)
    return Candidate(name, precision, "cpu", "openvino", onnx)


def engine_candidates(
    engines: list[Path], gpu: bool, notes: dict[str, str], facts=None
) -> list[Candidate]:
    """TensorRT FP32 and FP16 rows: each engine checked against this machine (library, version,
    GPU) before anything runs, so an engine that cannot load here is skipped with the reason."""
    from act_tool.errors import ActToolError
    from act_tool.runtime.runners import compat

    trt = have_module("tensorrt") or have_module("tensorrt_rtx")
    by_precision: dict[str, tuple[Path, EngineSpec | None, str]] = {}
    for engine in engines:
        try:
            spec = EngineSpec.read(spec_path(engine))
        except ActToolError as e:
            by_precision.setdefault("fp32", (engine, None, str(e)))
            continue
        by_precision[spec.precision] = (engine, spec, "")
    out = []
    for precision in ("fp32", "fp16"):
        name = f"tensorrt {precision}"
        if precision not in by_precision:
            reason = notes.get(precision) or (
                "no CUDA GPU" if not gpu else ("no engine" if trt else "TensorRT not installed")
            )
            out.append(Candidate(name, precision, "cuda", skipped=reason))
            continue
        engine, spec, problem = by_precision[precision]
        if spec is not None and not problem:
            if facts is None:
                facts = compat.probe_machine()
            problem = compat.plan_problem(spec, engine, facts)
        if problem:
            out.append(Candidate(name, precision, "cuda", skipped=problem))
        else:
            out.append(Candidate(name, precision, "cuda", "tensorrt", engine, cuda_graph=True))
    return out


def run_worker(
    c: Candidate,
    observations: Path,
    work: Path,
    warmup: int,
    repeats: int,
    timeout_s: float,
    skip_self_check: bool = False,
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
        skip_self_check,
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
    skip_self_check: bool = False,
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
        raw = run_worker(c, observations, work, warmup, repeats, timeout_s, skip_self_check)
        if raw.get("self_check"):
            log(f"  {c.name:<32} {raw['self_check']}")
        if "error" in raw:
            r.status, r.reason = "failed", raw["error"]
            log(f"  {c.name:<32} FAILED: {r.reason}")
            continue
        r.status, r.description = "ok", raw["description"]
        r.latency_ms = summarize(raw["latencies_s"])
        r.samples_ms = [x * 1e3 for x in raw["latencies_s"]]
        r.peak_rss_mb, r.gpu_peak_mb = raw["peak_rss_mb"], raw["gpu_peak_mb"]
        r.gpu_memory_note = raw.get("gpu_memory_note", "")
        actions = raw["actions"]
        if baseline_actions is None:
            baseline_actions, baseline_p50 = actions, r.latency_ms["p50"]
        err = np.abs(actions.astype(np.float64) - baseline_actions)
        per_dim_max = err.reshape(-1, err.shape[-1]).max(axis=0)
        per_dim_mean = err.reshape(-1, err.shape[-1]).mean(axis=0)
        r.accuracy = {
            "max_abs": float(per_dim_max.max()),
            "mean_abs": float(err.mean()),
            "max_rel": float((per_dim_max / action_std).max()),  # worst joint, worst sample
            "mean_rel": float((per_dim_mean / action_std).mean()),  # average over joints
        }
        r.ratio_to_baseline = r.latency_ms["p50"] / baseline_p50
        if flops:
            r.achieved_gflops = flops / (r.latency_ms["p50"] / 1e3) / 1e9
            peak = peaks.get(f"{c.device}_{c.precision}")
            if c.precision != "int8":  # FP16 on a CPU computes in FP32; INT8 has its own peak
                peak = peak or peaks.get(f"{c.device}_fp32")
            if peak:
                r.fraction_of_peak = r.achieved_gflops * 1e9 / peak
    return results
