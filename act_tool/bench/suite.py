"""`act-tool bench`: every backend and every loop stage, side by side, in one run.

With only a checkpoint, bench exports what it needs (ONNX FP32, and TensorRT engines where a
builder is installed whose engines can run on this GPU) into a temporary folder. A backend that
cannot run here, or an engine that fails to build or load, is reported with its reason; it never
stops the rest of the bench.

On a robot computer (numpy, OpenCV, pyserial, ONNX Runtime; no torch, no onnx) bench still runs:
FLOPs come from the artifact's spec (counted at export), the CPU peak runs a MatMul model shipped
with act-tool, and the GPU is found through cuda-python or the driver.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.errors import ActToolError, require
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
    move: bool = False  # a real arm: drive it (else a dry run: no writes, torque off)
    json_path: Path | None = None
    plot_path: Path | None = None
    skip_self_check: bool = False  # measure artifacts that have no check file

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
) -> tuple[Path | None, list[Path], dict[str, str]]:
    """The ONNX model and engines to measure (given ones, or exported from the checkpoint), and
    for each precision without an engine, why (precision -> reason)."""
    onnx, engines = opts.onnx, [opts.engine] if opts.engine else []
    notes: dict[str, str] = {}
    if opts.checkpoint is None or (onnx is not None and engines):
        return onnx, engines, notes
    from act_tool import gpu
    from act_tool.export.pipeline import ExportOptions, run_export
    from act_tool.runtime.runners import compat

    quiet = lambda _msg: None  # noqa: E731
    if onnx is None:
        log("exporting act.onnx from the checkpoint (parity-checked) ...")
        run_export(ExportOptions(opts.checkpoint, work / "fp32", builder="onnx"), log=quiet)
        onnx = work / "fp32" / "act.onnx"
    if engines or not gpu:
        return onnx, engines, notes
    facts = compat.probe_machine()
    problems = {b: compat.builder_problem(b, facts) for b in gpu.installed_builders()}
    usable = [b for b, problem in problems.items() if not problem]
    if not usable:
        why = "; ".join(f"{b}: {p}" for b, p in problems.items()) or "TensorRT not installed"
        return onnx, engines, {"fp32": why, "fp16": why}
    for fp16, name in ((False, "fp32"), (True, "fp16")):
        log(f"building a TensorRT {name} engine with {usable[0]} ...")
        out = work / f"trt_{name}"
        try:
            run_export(ExportOptions(opts.checkpoint, out, fp16=fp16, builder=usable[0]), log=quiet)
        except Exception as e:  # one engine's failure is that row's result, not the bench's
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            notes[name] = f"{usable[0]} build failed: {first}"
            log(f"  {notes[name]}")
            continue
        engines.append(out / "act.plan")
    return onnx, engines, notes


def measure_stages(opts: BenchOptions, artifact: Path, log) -> dict[str, Any]:
    """One short run of the real control loop (virtual arm + synthetic cameras by default). On a
    real arm it is a dry run unless `opts.move`: nothing is written and torque is off."""
    from act_tool.runtime.arm_kinds import ArmOptions, arm_kind_for
    from act_tool.runtime.loop_config import LoopConfig
    from act_tool.runtime.session import RunOptions, run

    kind = arm_kind_for(opts.port)
    real = kind.port is None  # a serial port: a real arm
    dry = real and not opts.move
    try:
        summary = run(
            RunOptions(
                engine=artifact,
                arm=ArmOptions(opts.port, robot_id=opts.robot_id, calibration=opts.calibration),
                cameras=opts.cameras,
                # a dry run also connects with torque off: the arm stays limp
                loop=LoopConfig(duration_s=opts.tick_seconds, dry_run=dry),
                skip_self_check=opts.skip_self_check,
            ),
            log=lambda _msg: None,
        )
    except Exception as e:  # reported in the table; the inference figures still stand
        return {"status": "failed", "reason": f"{type(e).__name__}: {e}"}
    arm = kind.summary if not real else opts.port
    if dry:
        arm += " (dry run: no writes, torque off; --move drives the arm)"
    return {
        "status": "ok",
        "arm": arm,
        "dry_run": dry,
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


def count_flops(spec: EngineSpec, onnx: Path | None) -> tuple[int | None, str]:
    """FLOPs of one inference and where they came from, or (None, why not): the spec's count
    (made at export), else a count of the ONNX graph where the onnx package is installed."""
    if spec.flops:
        return spec.flops, "counted at export (spec)"
    why = "not in the spec (exported before act-tool counted FLOPs; export again to add it)"
    if onnx is None:
        return None, f"skipped: {why}"
    try:
        import onnx as _onnx  # noqa: F401
    except ImportError:
        return None, f"skipped: {why}, and onnx is not installed to count them"
    from act_tool.export.flops import count_flops as count

    try:
        return count(onnx)[0], "counted with onnx shape inference (not in the spec)"
    except Exception as e:  # an odd graph: say so, keep benching
        return None, f"skipped: could not count FLOPs ({type(e).__name__}: {e})"


def run_bench(opts: BenchOptions, log: Callable[[str], None] = print) -> BenchResult:
    from act_tool.bench import machine, report
    from act_tool.bench.inference import candidates, cuda_available, measure
    from act_tool.bench.observations import write_observations

    if opts.plot_path:
        require("matplotlib", "bench", "act-tool bench --plot")  # before minutes of measuring
    gpu = cuda_available()
    info = machine.describe()
    with tempfile.TemporaryDirectory(prefix="act-bench-") as tmp:
        work = Path(tmp)
        onnx, engines, engine_notes = prepare_artifacts(opts, work, gpu, log)
        spec_source = onnx or engines[0]
        spec = EngineSpec.read(spec_path(spec_source))
        std = np.asarray(spec.action_std or (1.0,) * len(spec.action_names))
        observations = write_observations(spec, work / "observations.npz", opts.observations)
        flops, flops_note = count_flops(spec, onnx)
        log("measuring the machine's peak (large matrix product) ...")
        peaks, peak_notes = measure_peaks(gpu)
        cands = candidates(opts.checkpoint, onnx, engines, gpu, engine_notes)
        log("inference:")
        if opts.skip_self_check:
            log(
                "WARNING: --skip-self-check: artifacts without a check file are measured without "
                "checking their actions against LeRobot's first (a present check file still runs)"
            )
        results = measure(
            cands,
            observations,
            work,
            std,
            flops,
            peaks,
            opts.warmup,
            opts.repeats,
            log=log,
            skip_self_check=opts.skip_self_check,
        )
        baseline = next((r.name for r in results if r.status == "ok"), "none")
        baseline_note = report.baseline_note(results, baseline)
        if opts.stages:
            artifact = loop_artifact(results, cands, onnx, engines)
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
    lines = [title]
    if baseline_note:
        lines.append(baseline_note)
    lines += [report.inference_table(results, baseline), "", report.stages_table(stages)]
    lines.append("\n" + report.peaks_text(peaks, peak_notes, flops, flops_note))
    lines += report.notes(results)
    text = "\n".join(lines)
    data_json = report.to_json(
        info,
        flops,
        peaks,
        results,
        stages,
        baseline,
        extra={
            "flops_note": flops_note,
            "peak_notes": peak_notes,
            "baseline_note": baseline_note,
        },
    )
    if opts.json_path:
        opts.json_path.write_text(data_json)
    if opts.plot_path:
        report.plot(results, stages, opts.plot_path, title)
    return BenchResult(text, data_json, json.loads(data_json))


def measure_peaks(gpu: bool) -> tuple[dict[str, float | None], dict[str, str]]:
    """The machine's measured matrix-product peaks (CPU FP32; GPU FP32 and FP16 where there is
    one), and how each was measured or why it was not."""
    from act_tool.bench import machine

    peaks: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    peaks["cpu_fp32"], notes["cpu_fp32"] = machine.cpu_peak_flops()
    peaks["cpu_int8"], notes["cpu_int8"] = machine.cpu_int8_peak_ops()
    for key, dtype in (("cuda_fp32", "float32"), ("cuda_fp16", "float16")):
        if gpu:
            peaks[key], notes[key] = machine.gpu_peak_flops(dtype)
        else:
            peaks[key], notes[key] = None, "skipped: no CUDA GPU"
    return peaks, notes


def loop_artifact(results, cands, onnx: Path | None, engines: list[Path]) -> Path:
    """What the control tick runs, as a robot would: the fastest engine that ran here, else the
    ONNX model (else the first engine, which will then report why it cannot run)."""
    ran = {c.artifact for c, r in zip(cands, results, strict=True) if r.status == "ok"}
    usable = [e for e in engines if e in ran]
    return usable[-1] if usable else (onnx or engines[0])
