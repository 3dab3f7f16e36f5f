"""`act-tool bench`: every backend and every loop stage, side by side, in one run.

With only a checkpoint, bench exports what it needs (ONNX FP32, and TensorRT engines where a
builder and a GPU are present) into a temporary folder.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.errors import ActToolError
from act_tool.spec import EngineSpec, spec_path


@dataclass(frozen=True)
class BenchOptions:
    checkpoint: Path | None = None
    onnx: Path | None = None
    engine: Path | None = None
    repeats: int = 50
    warmup: int = 5
    observations: int = 8
    stages: bool = True
    port: str = "emulated"
    robot_id: str | None = None
    calibration: Path | None = None
    cameras: str | None = None
    tick_seconds: float = 5.0
    json_path: Path | None = None
    plot_path: Path | None = None

    def __post_init__(self) -> None:
        if self.checkpoint is None and self.onnx is None and self.engine is None:
            raise ActToolError("give something to measure: --checkpoint, --onnx or --engine")
        if self.repeats < 3 or self.observations < 2:
            raise ActToolError("--repeats must be >= 3 and --observations >= 2")


@dataclass
class BenchResult:
    text: str
    json: str
    data: dict[str, Any]


def prepare_artifacts(
    opts: BenchOptions, work: Path, gpu: bool, log
) -> tuple[Path | None, list[Path]]:
    """The ONNX model and engines to measure: given ones, or exported from the checkpoint."""
    onnx, engines = opts.onnx, [opts.engine] if opts.engine else []
    if opts.checkpoint is None or (onnx is not None and engines):
        return onnx, engines
    from act_tool.export.engine import available_builders
    from act_tool.export.pipeline import ExportOptions, run_export

    quiet = lambda _msg: None  # noqa: E731
    if onnx is None:
        log("exporting act.onnx from the checkpoint (parity-checked) ...")
        run_export(ExportOptions(opts.checkpoint, work / "fp32", builder="onnx"), log=quiet)
        onnx = work / "fp32" / "act.onnx"
    builders = available_builders()
    if not engines and gpu and builders:
        for fp16, name in ((False, "fp32"), (True, "fp16")):
            log(f"building a TensorRT {name} engine with {builders[0]} ...")
            run_export(
                ExportOptions(
                    opts.checkpoint, work / f"trt_{name}", fp16=fp16, builder=builders[0]
                ),
                log=quiet,
            )
            engines.append(work / f"trt_{name}" / "act.plan")
    return onnx, engines


def measure_stages(opts: BenchOptions, artifact: Path, log) -> dict[str, Any]:
    """One short run of the real control loop (virtual arm + synthetic cameras by default)."""
    from act_tool.runtime.session import RunOptions, run

    try:
        summary = run(
            RunOptions(
                engine=artifact,
                port=opts.port,
                robot_id=opts.robot_id,
                calibration=opts.calibration,
                cameras=opts.cameras,
                duration_s=opts.tick_seconds,
            ),
            log=lambda _msg: None,
        )
    except ActToolError as e:
        return {"status": "failed", "reason": str(e)}
    arm = "the virtual SO-101" if opts.port == "emulated" else opts.port
    return {
        "status": "ok",
        "arm": arm,
        "cameras": opts.cameras or "synthetic",
        "runner": artifact.name,
        "ticks": summary.ticks,
        "overruns": summary.overruns,
        "target_hz": summary.target_hz,
        "achieved_hz": summary.achieved_hz,
        "stages": {
            s.name: {"p50": s.p50_ms, "p99": s.p99_ms, "max": s.max_ms} for s in summary.stages
        },
    }


def run_bench(opts: BenchOptions, log: Callable[[str], None] = print) -> BenchResult:
    from act_tool.bench import machine, report
    from act_tool.bench.flops import count_flops
    from act_tool.bench.inference import candidates, cuda_available, measure
    from act_tool.bench.observations import write_observations

    gpu = cuda_available()
    info = machine.describe()
    with tempfile.TemporaryDirectory(prefix="act-bench-") as tmp:
        work = Path(tmp)
        onnx, engines = prepare_artifacts(opts, work, gpu, log)
        spec_source = onnx or engines[0]
        spec = EngineSpec.read(spec_path(spec_source))
        std = np.asarray(spec.action_std or (1.0,) * len(spec.action_names))
        observations = write_observations(spec, work / "observations.npz", opts.observations)
        flops = count_flops(onnx)[0] if onnx is not None else None
        log("measuring the machine's peak (large matrix product) ...")
        peaks = {
            "cpu_fp32": machine.cpu_peak_flops(),
            "cuda_fp32": machine.gpu_peak_flops("float32") if gpu else None,
            "cuda_fp16": machine.gpu_peak_flops("float16") if gpu else None,
        }
        cands = candidates(opts.checkpoint, onnx, engines, gpu)
        log("inference:")
        results = measure(
            cands, observations, work, std, flops, peaks, opts.warmup, opts.repeats, log=log
        )
        baseline = next((r.name for r in results if r.status == "ok"), "none")
        if opts.stages:
            # The loop runs the artifact a robot would: the engine on a GPU, else ONNX Runtime.
            artifact = engines[-1] if gpu and engines else (onnx or engines[0])
            log(
                f"control tick: {opts.tick_seconds:.0f} s of the real loop with {artifact.name} ..."
            )
            stages = measure_stages(opts, artifact, log)
        else:
            stages = {"status": "skipped", "reason": "--no-stages"}
    title = (
        f"act-tool bench: {info['cpu']} ({info['cores']} cores)"
        + (f", {info['gpu']['name']}" if info.get("gpu") else ", no GPU")
        + (f"; {flops / 1e9:.1f} GFLOP per inference" if flops else "")
    )
    lines = [title, report.inference_table(results, baseline), "", report.stages_table(stages)]
    peak_line = ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items() if v)
    lines.append(f"\nmeasured peak: {peak_line}")
    skipped = [f"{r.name} ({r.reason})" for r in results if r.status == "skipped"]
    if skipped:
        lines.append("skipped: " + "; ".join(skipped))
    text = "\n".join(lines)
    data_json = report.to_json(info, flops, peaks, results, stages, baseline)
    if opts.json_path:
        opts.json_path.write_text(data_json)
    if opts.plot_path:
        report.plot(results, stages, opts.plot_path, title)
    return BenchResult(text, data_json, json.loads(data_json))
