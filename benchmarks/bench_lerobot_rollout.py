"""LeRobot's own `lerobot-rollout`, per control tick, for a LeRobot ACT checkpoint and for the
act-tool export of it through the policy plugin (FP32 and FP16 ONNX Runtime on the CPU), on the
virtual arm (wire time emulated) with the camera plugin's synthetic frames.

LeRobot 0.6.1's rollout reports no per-step timing of its own: it logs a warning for each tick
slower than its period ("Record loop is running slower (X Hz) ..."), which is counted here. The
timing is taken inside the real `lerobot-rollout` process (its `main()`, run in a child process
with timers wrapped around LeRobot's calls; nothing else changes):

- tick: robot.get_observation() start to start, and its work (observation to sent action);
- get_action: LeRobot's whole policy path of a tick (prepare_observation_for_inference,
  preprocessor, select_action, postprocessor, mapping to joints);
- select_action: the policy's call alone; model: the network (LeRobot's predict_action_chunk,
  or the act-tool engine's `Runner.infer`);
- the plugin's overhead: select_action minus the engine call (image conversion, state view,
  executor, the action tensor), on ticks that infer and on ticks that pop the queue.

After each plugin row, `act-tool bench --onnx` times the same artifact outside LeRobot (under
the same load), for the 10 % comparison, and so does a plain loop over the engine with the
plugin's runner options (act-tool bench's ONNX Runtime threads spin between inferences, the
plugin's do not).

    .venv/bin/python benchmarks/bench_lerobot_rollout.py [--checkpoint models/act_so101_twin]
        [--seconds 20] [--output benchmarks/results/lerobot_rollout.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ("lerobot_policy_act_tool", "lerobot_camera_act_tool")


# --- the child: lerobot-rollout's main() with timers -----------------------------------------


def child(out: Path, rollout_args: list[str]) -> None:
    from time import perf_counter

    import lerobot.rollout.inference.sync as sync
    from lerobot.rollout.robot_wrapper import ThreadSafeRobot

    samples: dict[str, list] = {
        k: [] for k in ("obs_start", "work", "get_action", "select", "model", "infer_tick")
    }
    state = {"on": False, "model": 0.0, "modelled": False, "tick": 0.0}

    def timed(owner, name, record):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            t = perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                record(t, perf_counter() - t)

        setattr(owner, name, wrapper)

    def on_obs(t, dt):
        state["tick"] = t
        if state["on"]:
            samples["obs_start"].append(t)

    def on_send(t, dt):
        if state["on"]:
            samples["work"].append(t + dt - state["tick"])

    def on_model(t, dt):
        if state["on"]:
            state["model"] += dt
            state["modelled"] = True

    def on_select(t, dt):
        if state["on"]:
            samples["select"].append(dt)
            samples["model"].append(state["model"])
            samples["infer_tick"].append(state["modelled"])
            state["model"], state["modelled"] = 0.0, False

    def on_get_action(t, dt):
        if state["on"]:
            samples["get_action"].append(dt)
        state["on"] = True  # the first tick (first-call costs) is not recorded

    timed(ThreadSafeRobot, "get_observation", on_obs)
    timed(ThreadSafeRobot, "send_action", on_send)
    timed(sync.SyncInferenceEngine, "get_action", on_get_action)
    from lerobot.policies.act.modeling_act import ACTPolicy

    from act_tool.runtime.runners.base import Runner

    timed(ACTPolicy, "predict_action_chunk", on_model)
    timed(ACTPolicy, "select_action", on_select)
    timed(Runner, "infer", on_model)
    from lerobot.utils.import_utils import register_third_party_plugins

    register_third_party_plugins()
    from lerobot_policy_act_tool.modeling_act_tool import ActToolPolicy

    timed(ActToolPolicy, "select_action", on_select)

    from lerobot.scripts import lerobot_rollout

    sys.argv = ["lerobot-rollout", *rollout_args]
    try:
        lerobot_rollout.rollout()
    finally:
        out.write_text(json.dumps(samples))


# --- the parent ------------------------------------------------------------------------------


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def install_plugins(target: Path, work: Path) -> None:
    for name in PLUGINS:
        src = work / "src" / name
        if not src.exists():
            src.parent.mkdir(parents=True, exist_ok=True)
            run(["cp", "-r", str(ROOT / "plugins" / name), str(src.parent)])
        run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
            + ["--no-build-isolation", "--target", str(target), str(src)])  # fmt: skip


def cameras(spec) -> str:
    parts = [
        f"{c.name}: {{type: act_tool, seed: {i}, width: {c.width}, height: {c.height}, fps: 30}}"
        for i, c in enumerate(spec.cameras)
    ]
    return "{" + ", ".join(parts) + "}"


def stats(ms: np.ndarray) -> str:
    if ms.size == 0:
        return "-"
    return f"{np.median(ms):.3f} / {np.percentile(ms, 90):.3f} (n={ms.size})"


def summarize(data: dict) -> dict:
    infer = np.array(data["infer_tick"], bool)
    n = min(len(data["select"]), infer.size)
    infer = infer[:n]
    select = np.array(data["select"][:n]) * 1e3
    model = np.array(data["model"][:n]) * 1e3
    get_action = np.array(data["get_action"][:n]) * 1e3
    starts = np.array(data["obs_start"])
    period = np.diff(starts) * 1e3
    return {
        "ticks": int(n),
        "inferences": int(infer.sum()),
        "hz": float(1e3 / np.median(period)) if period.size else float("nan"),
        "period": period,
        "work": np.array(data["work"]) * 1e3,
        "get_action_infer": get_action[infer],
        "get_action_pop": get_action[~infer],
        "model": model[infer],
        "overhead_infer": (select - model)[infer],
        "overhead_pop": select[~infer],
        "lerobot_part": (get_action - select),
    }


def bench_p50(onnx: Path, work: Path, repeats: int) -> float:
    out = work / f"bench_{onnx.name}.json"
    run([sys.executable, "-c", "from act_tool.cli import app; app()", "bench", "--onnx", str(onnx)]
        + ["--repeats", str(repeats), "--warmup", "5", "--json", str(out)],
        stdout=subprocess.DEVNULL)  # fmt: skip
    precision = "fp16" if ".fp16." in onnx.name else "fp32"
    for row in json.loads(out.read_text())["inference"]:
        ours = row["name"].startswith("onnxruntime cpu") and row["precision"] == precision
        if ours and row["status"] == "ok":
            return float(row["latency_ms"]["p50"])
    raise RuntimeError(f"act-tool bench gave no onnxruntime cpu {precision} row")


def engine_p50(onnx: Path, repeats: int) -> float:
    """The engine alone, in this process, with the plugin's runner options (ONNX Runtime's idle
    threads not spinning), on random observations."""
    from act_tool.runtime.runners import RunnerOptions, open_runner

    rng = np.random.default_rng(0)
    with open_runner(onnx, "onnxruntime", RunnerOptions(asynchronous=True)) as runner:
        for buf in runner.inputs.values():
            buf[...] = rng.integers(0, 256, buf.shape) if buf.dtype == np.uint8 else 0.0
        for _ in range(5):
            runner.infer()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            runner.infer()
            times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=ROOT / "models" / "act_so101_twin")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=100, help="act-tool bench's timed inferences")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/lerobot_rollout.md")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args()
    if args.child is not None:
        child(args.child, [a for a in rest if a != "--"])
        return

    from act_tool.bench.machine import cpu_model
    from act_tool.export.pipeline import ExportOptions, run_export
    from act_tool.hw.emulator import EmulatorConfig, VirtualArm, write_calibration_file
    from act_tool.spec import EngineSpec

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    export = work / "export"
    if not (export / "act.fp16.onnx").is_file():
        run_export(ExportOptions(args.checkpoint, export, fp16=True, builder="onnx"))
    spec = EngineSpec.read(export / "act.onnx.json")
    overlay = work / "overlay"
    if not overlay.exists():
        install_plugins(overlay, work)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(overlay), str(ROOT), env.get("PYTHONPATH", "")])
    env["HF_LEROBOT_HOME"], env["HF_HUB_OFFLINE"] = str(work / "home"), "1"
    calibration = write_calibration_file("bench", root=work / "calibration")

    rows = {
        "LeRobot ACT (PyTorch, eager)": [
            f"--policy.path={args.checkpoint}",
            "--policy.device=cpu",
            "--policy.pretrained_backbone_weights=null",
        ],
        "act-tool FP32, ONNX Runtime CPU": [
            f"--policy.path={export}",
            "--policy.backend=onnxruntime",
            "--policy.artifact=act.onnx",
        ],
        "act-tool FP16, ONNX Runtime CPU": [
            f"--policy.path={export}",
            "--policy.backend=onnxruntime",
            "--policy.artifact=act.fp16.onnx",
        ],
    }
    load = [os.getloadavg()[0]]
    results, bench = {}, {}
    for label, policy_args in rows.items():
        with VirtualArm(EmulatorConfig(wire_time=True)) as virtual:
            out = work / f"{label.split()[0]}-{len(results)}.json"
            rollout_args = [
                "--strategy.type=base",
                *policy_args,
                "--robot.type=so101_follower",
                f"--robot.port={virtual.port}",
                "--robot.id=bench",
                f"--robot.calibration_dir={calibration.parent}",
                f"--robot.cameras={cameras(spec)}",
                f"--fps={spec.fps}",
                f"--duration={args.seconds}",
                "--task=bench",
                "--return_to_initial_position=false",
            ]
            print(f"{label}: lerobot-rollout {' '.join(rollout_args)}", flush=True)
            log = out.with_suffix(".log")
            # LeRobot reads each register once (num_retry 0): on a loaded machine one late reply
            # of the virtual arm fails its connect ("There is no status packet!"); try again
            for attempt in range(3):
                with open(log, "w") as f:
                    done = subprocess.run(
                        [sys.executable, __file__, "--child", str(out), "--", *rollout_args],
                        env=env, cwd=work, stdout=f, stderr=subprocess.STDOUT,
                    )  # fmt: skip
                if done.returncode == 0:
                    break
                print(f"  attempt {attempt + 1} failed (see {log}); again", flush=True)
            else:
                raise RuntimeError(f"{label}: lerobot-rollout failed 3 times; see {log}")
            results[label] = summarize(json.loads(out.read_text()))
            # LeRobot's own timing output: one warning per tick slower than the period
            results[label]["slow"] = log.read_text().count("running slower")
        artifact = next((a for a in policy_args if a.startswith("--policy.artifact=")), None)
        if artifact is not None:  # the same engine outside LeRobot, right after (same load)
            onnx = export / artifact.split("=", 1)[1]
            bench[label] = (bench_p50(onnx, work, args.repeats), engine_p50(onnx, args.repeats))
        load.append(os.getloadavg()[0])
    write_report(args, spec, results, bench, load, cpu_model())


def write_report(args, spec, results, bench, load, cpu) -> None:
    import platform

    lines = [
        "# lerobot-rollout: LeRobot's ACT against the act-tool plugin, per tick (CPU)",
        "",
        f"Written by `benchmarks/bench_lerobot_rollout.py --checkpoint {args.checkpoint.relative_to(ROOT) if args.checkpoint.is_relative_to(ROOT) else args.checkpoint} "
        f"--seconds {args.seconds:g}` on {time.strftime('%Y-%m-%d')}.",
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores, no GPU, Python {platform.python_version()}, "
        "LeRobot 0.6.1. 1-minute load average "
        f"{', '.join(f'{x:.1f}' for x in load)} at the start and after each row, on "
        f"{os.cpu_count()} cores"
        + (
            ": **the machine was shared with other jobs during the run**; absolute figures are "
            "pessimistic and noisy, ratios within one run are the meaningful part."
            if max(load) > 0.5 * (os.cpu_count() or 1)
            else " (the benchmark's own processes: nothing else ran)."
        ),
        "",
        f"Policy: {args.checkpoint.name} ({len(spec.cameras)} cameras "
        f"{spec.cameras[0].width}x{spec.cameras[0].height}, chunk {spec.chunk_size}, "
        f"n_action_steps {spec.n_action_steps}, {spec.fps} fps). Each row is one `lerobot-rollout "
        f"--strategy.type=base` of {args.seconds:g} s on the virtual arm (wire time emulated) with the "
        "camera plugin's synthetic frames, ticks at the policy's fps; the first tick is not counted. "
        "Median / 90th percentile in ms.",
        "",
        "LeRobot 0.6.1's rollout has no per-step timing report; its only timing output is a warning "
        "per tick slower than the period, counted in the last column. The figures below are taken "
        "inside the real lerobot-rollout process by wrapping its calls with timers.",
        "",
        "| | ticks (inferring) | loop Hz | tick work | get_action, inferring tick | get_action, queue tick | model call | slow-tick warnings |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, r in results.items():
        lines.append(
            f"| {label} | {r['ticks']} ({r['inferences']}) | {r['hz']:.1f} | {stats(r['work'])} | "
            f"{stats(r['get_action_infer'])} | {stats(r['get_action_pop'])} | {stats(r['model'])} | "
            f"{r['slow']} |"
        )
    lines += [
        "",
        "The plugin's own time (select_action minus the engine call: images written into the "
        "engine's input, the state's numpy view, the executor, the action tensor), and LeRobot's "
        "part of get_action around the policy (prepare_observation_for_inference, processors, "
        "mapping to joints), the same for every row:",
        "",
        "| | plugin overhead, inferring tick | plugin overhead, queue tick | LeRobot around select_action | engine in rollout (p50) | act-tool bench (p50) | engine alone, plugin's options (p50) | rollout / bench | rollout / alone |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in results.items():
        if label not in bench:
            lines.append(f"| {label} | - | - | {stats(r['lerobot_part'])} | - | - | - | - | - |")
            continue
        engine = float(np.median(r["model"])) if r["model"].size else float("nan")
        cli, alone = bench[label]
        lines.append(
            f"| {label} | {stats(r['overhead_infer'])} | {stats(r['overhead_pop'])} | "
            f"{stats(r['lerobot_part'])} | {engine:.2f} | {cli:.2f} | {alone:.2f} | "
            f"{engine / cli:.2f} | {engine / alone:.2f} |"
        )
    base = results.get("LeRobot ACT (PyTorch, eager)")
    if base is not None and base["model"].size:
        lines += ["", "Model call against LeRobot's eager ACT in the same run:"]
        for label, r in results.items():
            if label in bench and r["model"].size:
                ratio = np.median(base["model"]) / np.median(r["model"])
                lines.append(f"- {label}: {ratio:.1f}x faster")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")
    print(args.output.read_text())


if __name__ == "__main__":
    main()
