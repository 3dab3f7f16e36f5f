"""Control-loop benchmark on the virtual SO-101 with synthetic cameras.

1. The loop's own overhead per tick: everything but inference and the wire. A runner that does no
   work stands in for the policy; the virtual arm emulates 1 Mbps wire time, and each tick's active
   time minus the modelled wire time of its sync-read (14 + 6 x 8 bytes: 0.62 ms; the sync-write's
   26 bytes leave while the loop sleeps) is the overhead: handing the newest frames to the runner,
   the bus software (packets, syscalls, the pty hop and the emulator's reaction), the executor,
   the clamp, timing and telemetry; work the loop does while the read's answers are on the wire
   costs nothing here. Two 480x640 cameras, chunk mode and every-tick mode (temporal ensembling).
2. Does the loop hold 30 Hz with a policy that takes 20 ms? A runner that sleeps 20 ms per call,
   in every execution mode.
3. The real ONNX Runtime runner beside the control thread: a tiny exported ACT, synchronous and
   asynchronous (`run --async`) loops, ONNX Runtime on every core or all but one, its idle
   threads spinning or not. Needs the export extra to make the model, or --onnx.

    .venv/bin/python benchmarks/bench_loop.py --seconds 10 --out benchmarks/results/loop_cpu.md
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from act_tool.hw.cameras import CameraConfig, CameraSet, parse_camera_args
from act_tool.hw.emulator import (
    DEFAULT_CALIBRATION,
    EmulatorConfig,
    VirtualArm,
    write_calibration_file,
)
from act_tool.hw.feetech.protocol import wire_time_s
from act_tool.hw.so101 import ArmConfig, SO101Arm
from act_tool.runtime.arm_guard import torque_guard
from act_tool.runtime.loop import LoopConfig, LoopError, run_loop
from act_tool.runtime.runners import RunnerOptions, open_runner
from act_tool.runtime.runners.base import ACTION, Runner
from act_tool.runtime.so101_arms import middle_of_training_range
from act_tool.runtime.telemetry import COL, STAGES, Telemetry
from act_tool.spec import EngineSpec
from act_tool.testing.fakes import FakeRunner, smooth_chunk
from act_tool.testing.specs import make_spec

# Modelled wire time inside a tick: the sync-read's request (14 bytes) and six 8-byte answers at
# 1 Mbps. The sync-write (26 bytes) is on the wire while the loop sleeps: no tick waits for it.
READ_WIRE_S = wire_time_s(14 + 6 * 8, 1_000_000)
ACTIVE = tuple(s for s in STAGES if s != "slack")


def bench_spec(height: int = 480, width: int = 640, chunk: int = 100) -> EngineSpec:
    """Two cameras at height x width, chunks of `chunk`, trained on +-60 degrees."""
    return make_spec(
        cameras=(("front", height, width), ("handeye", height, width)),
        chunk=chunk,
        state_min=(-60.0,) * 5 + (0.0,),
        state_max=(60.0,) * 5 + (100.0,),
        action_range=None,
    )


def idle_runner(spec: EngineSpec, seconds: float) -> FakeRunner:
    """No model: `infer()` sleeps `seconds` (0: returns at once) and leaves a smooth chunk."""
    chunk = smooth_chunk(spec.chunk_size, len(spec.action_names))
    return FakeRunner(spec, delay_s=seconds, chunk=chunk, record=False)


def null_onnx_runner(spec: EngineSpec, folder: Path) -> Runner | None:
    """The ONNX Runtime runner on a model that computes nothing (its action is a constant): the
    loop's calls into ONNX Runtime (frames bound in place, the run call) are real, the network
    is absent. None without the onnx package (the export extra)."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    from act_tool.runtime.runners.onnxruntime_runner import create

    (out,) = Runner(Path("none"), spec).output_specs
    inputs = [
        helper.make_tensor_value_info(
            ts.name, TensorProto.UINT8 if ts.dtype == "uint8" else TensorProto.FLOAT, ts.shape
        )
        for ts in Runner(Path("none"), spec).input_specs
    ]
    value = numpy_helper.from_array(
        smooth_chunk(spec.chunk_size, len(spec.action_names))[None], "chunk"
    )
    graph = helper.make_graph(
        [helper.make_node("Constant", [], [ACTION], value=value)],
        "null",
        inputs,
        [helper.make_tensor_value_info(ACTION, TensorProto.FLOAT, out.shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = folder / "null.onnx"
    onnx.save(model, path)
    return create(path, spec, RunnerOptions(verify=False, threads=1))


@dataclass
class Captured:
    rows: np.ndarray
    summary: object
    error: str = ""  # the loop stopped early (its summary and rows cover the run until then)
    log: tuple[str, ...] = ()  # what the loop logged

    @property
    def priority(self) -> str:
        """The loop's line about the control thread's priority."""
        return next((line for line in self.log if "priority" in line), "priority not logged")


def run_case(
    runner: Runner,
    config: LoopConfig,
    wire_time: bool,
    keep_going: bool = False,
    awake: bool = False,
    observers: tuple = (),
) -> Captured:
    """One loop run of `runner` (not yet entered) on the virtual arm with synthetic cameras.
    `keep_going`: a loop that stops on an error returns what it ran, with the error. `awake`:
    the virtual arm busy-polls on the last core and this process runs on the others (servo
    firmware is always awake; a sleeping emulator's wake-up would count as our time).
    `observers`: tick observers (a recorder, a live view) shown every tick."""
    spec = runner.spec
    telemetry = Telemetry(config.ring_capacity, config.log_path)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        stack.enter_context(runner)
        start = middle_of_training_range(spec, DEFAULT_CALIBRATION)
        emulator_cpus = None
        if awake:
            cores = sorted(os.sched_getaffinity(0))
            emulator_cpus = frozenset(cores[-1:])
            os.sched_setaffinity(0, cores[:-1])
            stack.callback(os.sched_setaffinity, 0, cores)
        virtual = stack.enter_context(
            VirtualArm(
                EmulatorConfig(
                    wire_time=wire_time,
                    start_positions=start,
                    busy_poll=awake,
                    cpus=emulator_cpus,
                )
            )
        )
        cal = write_calibration_file("bench", root=tmp)
        arm = SO101Arm(ArmConfig(port=virtual.port, calibration_path=cal))
        names = ",".join(f"{c.name}=synthetic" for c in spec.cameras)
        cams = CameraSet(
            parse_camera_args(names),
            CameraConfig(width=spec.cameras[0].width, height=spec.cameras[0].height, fps=30),
        )
        stack.enter_context(cams)
        stack.enter_context(torque_guard(arm))
        error = ""
        lines: list[str] = []
        try:
            summary = run_loop(
                runner, arm, cams, config, lines.append, telemetry, observers=observers
            )
        except LoopError as e:
            if not keep_going or e.summary is None:
                raise
            summary, error = e.summary, str(e)
    return Captured(telemetry.recent(), summary, error, tuple(lines))


def stage_ms(rows: np.ndarray, *names: str) -> np.ndarray:
    return sum(rows[:, COL[n]] for n in names) * 1e3


def pct(x: np.ndarray) -> str:
    return f"{np.percentile(x, 50):.3f} / {np.percentile(x, 99):.3f} / {x.max():.3f}"


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")),
            platform.processor(),
        )
    except (OSError, subprocess.CalledProcessError):
        model = platform.processor()
    from act_tool.bench.machine import gpu_info

    gpu = gpu_info()
    return (
        f"{model}, {os.cpu_count()} cores, {gpu['name'] if gpu else 'no GPU'}, "
        f"Python {platform.python_version()}"
    )


def overhead_section(seconds: float, rounds: int = 1) -> list[str]:
    spec = bench_spec()
    folder = Path(tempfile.mkdtemp(prefix="bench-loop-null-"))
    real = importlib.util.find_spec("onnx") is not None  # null_onnx_runner needs it
    runner_text = (
        "The ONNX Runtime runner on a model that computes nothing (its action is a constant "
        "chunk): the loop's calls into ONNX Runtime are real (frames bound in place on query "
        "ticks, the state copied, the run call, the chunk copied out), the network is absent. "
        if real
        else "A runner that does no work (the onnx package is missing, so not ONNX Runtime's "
        "runner: no frame is bound or copied into it). "
    )
    lines = [
        "## 1. Loop overhead per tick (everything but inference and the wire)",
        "",
        "Two 480x640 cameras, the virtual arm with 1 Mbps wire-time emulation, 30 Hz. "
        + runner_text
        + "Overhead = a tick's active time minus its `inference` stage (the run call) minus the "
        f"modelled wire time of its sync-read ({READ_WIRE_S * 1e3:.2f} ms: 14 + 6 x 8 bytes). "
        "It keeps the bus software: packet building and parsing, the syscalls, the pty hop and "
        "the emulator's own reaction (an upper bound on what a real USB adapter adds). The "
        "virtual arm is a Python process that sleeps between requests: its wake-up lands in the "
        "`state` stage. Servo firmware is always awake, so the last two rows run it busy-polling "
        "on a core of its own (this process on the others): closer to what our own code costs "
        "beside real servos. Loop thread CPU: the control thread's own CPU time per tick "
        "(time.thread_time over the stages, the inference call left out): our code and its "
        "syscalls, without waiting for the wire or the virtual arm, and without being "
        f"preempted. {rounds} round{'s' if rounds > 1 else ''} of {seconds:g} s per row, the "
        "rows interleaved; figures pooled over the rounds, and the p99 of each round. "
        "Goal: p99 under 0.5 ms.",
        "",
        "| mode | ticks | overhead (ms) | overhead p99 per round (ms) | loop thread CPU (ms) | "
        "camera (ms) | state read incl. wire (ms) | write (ms) | other stages (ms) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    awake_ok = len(os.sched_getaffinity(0)) >= 2
    cases = [
        ("chunks of 100", 100, None, False),
        (
            "temporal ensembling (frames to the runner, a chunk stored and an action blended every tick)",
            1,
            0.01,
            False,
        ),
        ("chunks of 100, virtual arm awake on its own core", 100, None, True),
        ("temporal ensembling, virtual arm awake on its own core", 1, 0.01, True),
    ]
    cases = [c for c in cases if awake_ok or not c[3]]
    pooled: dict[str, list[np.ndarray]] = {c[0]: [] for c in cases}
    priority = ""
    try:
        for r in range(rounds):
            for label, steps, coeff, awake in cases:
                cfg = LoopConfig(
                    fps=30, n_action_steps=steps, temporal_ensemble_coeff=coeff, duration_s=seconds
                )
                runner = null_onnx_runner(spec, folder) if real else idle_runner(spec, 0.0)
                assert runner is not None
                cap = run_case(runner, cfg, wire_time=True, awake=awake)
                priority = cap.priority
                pooled[label].append(cap.rows[5:])  # after the warm-up ticks
                print(f"round {r + 1}/{rounds}: {label} done", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def overhead(rows: np.ndarray) -> np.ndarray:
        return stage_ms(rows, *ACTIVE) - stage_ms(rows, "inference") - READ_WIRE_S * 1e3

    for label, *_ in cases:
        rounds_p99 = [np.percentile(overhead(rows), 99) for rows in pooled[label]]
        rows = np.concatenate(pooled[label])
        other = stage_ms(rows, *ACTIVE) - stage_ms(rows, "camera", "state", "inference", "write")
        lines.append(
            f"| {label} | {len(rows)} | {pct(overhead(rows))} | "
            f"{', '.join(f'{x:.3f}' for x in rounds_p99)} | {pct(stage_ms(rows, 'cpu'))} | "
            f"{pct(stage_ms(rows, 'camera'))} | "
            f"{pct(stage_ms(rows, 'state'))} | {pct(stage_ms(rows, 'write'))} | {pct(other)} |"
        )
        print(lines[-1], flush=True)
    lines += [
        "",
        f"Control thread: {priority}. "
        "All columns but the per-round one are p50 / p99 / max. Other stages: "
        + ", ".join(f"`{s}`" for s in ACTIVE if s not in ("camera", "state", "inference", "write"))
        + ".",
    ]
    return lines


def rate_section(seconds: float) -> list[str]:
    spec = bench_spec()
    lines = [
        "## 2. 30 Hz with a policy that takes 20 ms",
        "",
        "A runner that sleeps 20 ms per call; the virtual arm with 1 Mbps wire-time emulation "
        "(sync-read about 0.9 ms); 30 Hz for the whole run.",
        "",
        "| mode | inferences | achieved Hz | overruns | missed slots | tick period p99 (ms) | "
        "active tick p99 (ms) | slack p1 (ms) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, steps, coeff, asynchronous in (
        ("chunks of 100, synchronous", 100, None, False),
        ("chunks of 10, synchronous", 10, None, False),
        ("temporal ensembling: 20 ms inference every tick", 1, 0.01, False),
        ("chunks of 10, asynchronous", 10, None, True),
    ):
        cfg = LoopConfig(
            fps=30,
            n_action_steps=steps,
            temporal_ensemble_coeff=coeff,
            asynchronous=asynchronous,
            duration_s=seconds,
        )
        cap = run_case(idle_runner(spec, 0.020), cfg, wire_time=True)
        s = cap.summary
        rows = cap.rows[1:]
        lines.append(
            f"| {label} | {s.inferences} | {s.achieved_hz:.2f} | {s.overruns} | {s.missed_slots} | "
            f"{np.percentile(rows[:, COL['period']] * 1e3, 99):.2f} | "
            f"{np.percentile(stage_ms(rows, *ACTIVE), 99):.2f} | "
            f"{np.percentile(rows[:, COL['slack']] * 1e3, 1):.2f} |"
        )
        print(lines[-1], flush=True)
    return lines


def tiny_onnx(folder: Path) -> Path:
    """A small ACT (two 120x160 cameras, chunk 20), exported to ONNX (needs the export extra)."""
    from act_tool.export.pipeline import ExportOptions, run_export
    from act_tool.testing.tiny_checkpoint import TinyConfig, save_tiny_checkpoint

    cfg = TinyConfig(height=120, width=160, chunk_size=20, n_action_steps=10)
    ckpt = save_tiny_checkpoint(folder / "pretrained_model", cfg)
    run_export(ExportOptions(ckpt, folder / "export", builder="onnx"), log=lambda _: None)
    return folder / "export" / "act.onnx"


def timed(runner: Runner) -> list[float]:
    """Record the seconds of every `infer()` of `runner` (on whichever thread runs it)."""
    seconds: list[float] = []
    inner = runner._infer

    def _infer() -> None:
        t = time.perf_counter()
        inner()
        seconds.append(time.perf_counter() - t)

    runner._infer = _infer  # type: ignore[method-assign]
    return seconds


def ort_section(onnx: Path, seconds: float, rounds: int) -> list[str]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    lines = [
        "## 3. The real ONNX Runtime runner beside the control thread",
        "",
        f"`{onnx.name}` of a small ACT (two 120x160 cameras, chunk 20, 10 actions per chunk), "
        "the ONNX Runtime runner with IO binding, the virtual arm with wire time, synthetic "
        f"cameras, 30 Hz. {rounds} rounds of {seconds:g} s per row, the rows interleaved so "
        "that background load falls on all of them alike; figures pooled over the rounds. "
        "`spinning`: ONNX Runtime's `session.intra_op.allow_spinning` (idle intra-op threads "
        "spin; its default). In the asynchronous loop inference runs on a worker thread while "
        "the control thread keeps ticking. Lateness: how far a tick started after its deadline.",
        "",
        "| loop | intra-op threads | spinning | inference p50 / p99 (ms) | tick lateness "
        "p50 / p99 / max (ms) | active tick p99 (ms) | overruns | starved ticks | "
        "runs stopped early |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    spare = max(1, cores - 1)
    cases = [
        ("async", cores, True),
        ("async", cores, False),
        ("async", spare, True),
        ("async", spare, False),
        ("sync", cores, True),
        ("sync", cores, False),
        ("sync", spare, True),
        ("sync", spare, False),
    ]
    pooled: dict[tuple, dict[str, list]] = {c: {"inf": [], "late": [], "active": []} for c in cases}
    counts: dict[tuple, list[int]] = {c: [0, 0, 0] for c in cases}  # overruns, starved, stops
    for r in range(rounds):
        for case in cases:
            loop, threads, spinning = case
            # RunnerOptions.asynchronous turns spinning off (threads are given explicitly).
            runner = open_runner(
                onnx, options=RunnerOptions(threads=threads, asynchronous=not spinning)
            )
            latencies = timed(runner)
            cfg = LoopConfig(
                fps=30, n_action_steps=10, asynchronous=loop == "async", duration_s=seconds
            )
            cap = run_case(runner, cfg, wire_time=True, keep_going=True)
            rows = cap.rows[5:]
            if cap.error:
                counts[case][2] += 1
                print(f"  stopped early: {cap.error}", flush=True)
            # A tick's deadline is the previous tick's end plus its slack:
            # lateness[i+1] = period[i+1] - active[i] - slack[i].
            active = stage_ms(rows, *ACTIVE)
            late = rows[1:, COL["period"]] * 1e3 - active[:-1] - rows[:-1, COL["slack"]] * 1e3
            pooled[case]["inf"] += [x * 1e3 for x in latencies[2:]]
            pooled[case]["late"] += late.tolist()
            pooled[case]["active"] += active.tolist()
            counts[case][0] += cap.summary.overruns
            counts[case][1] += getattr(cap.summary, "starved_ticks", 0)
            print(f"round {r + 1}/{rounds}: {case} done", flush=True)
    for case in cases:
        loop, threads, spinning = case
        inf, late, active = (np.asarray(pooled[case][k]) for k in ("inf", "late", "active"))
        lines.append(
            f"| {loop} | {threads} | {'on' if spinning else 'off'} | "
            f"{np.percentile(inf, 50):.1f} / {np.percentile(inf, 99):.1f} | {pct(late)} | "
            f"{np.percentile(active, 99):.2f} | {counts[case][0]} | {counts[case][1]} | "
            f"{counts[case][2]} of {rounds} |"
        )
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="per case")
    ap.add_argument("--onnx", type=Path, default=None, help="section 3's model (default: tiny)")
    ap.add_argument("--sections", default="123", help="which sections to run, e.g. 13")
    ap.add_argument("--rounds", type=int, default=3, help="sections 1 and 3: interleaved rounds")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown here")
    args = ap.parse_args()
    lines = [
        "# Control-loop benchmark (CPU, virtual SO-101, synthetic cameras)",
        "",
        f"Machine: {machine()}. Run: `.venv/bin/python benchmarks/bench_loop.py "
        f"--seconds {args.seconds:g} --rounds {args.rounds}` on {time.strftime('%Y-%m-%d', time.gmtime())}. "
        "The machine is shared with other jobs; figures are what this run saw.",
    ]
    if "1" in args.sections:
        lines += ["", *overhead_section(args.seconds, args.rounds)]
    if "2" in args.sections:
        lines += ["", *rate_section(args.seconds)]
    if "3" in args.sections:
        with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
            onnx = args.onnx or tiny_onnx(Path(tmp))
            lines += ["", *ort_section(onnx, args.seconds, args.rounds)]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
