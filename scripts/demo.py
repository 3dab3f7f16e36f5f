"""`make demo`: the tour of act-tool on a machine with no robot and no GPU.

Each stage is one `act-tool` command, printed before it runs, so the demo teaches the tool:
a synthetic dataset, a small policy trained on the CPU, export (ONNX checked against LeRobot,
FP16, TensorRT engine), ten seconds on the virtual SO-101 with synthetic cameras, and a bench.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
# A small ACT that learns the synthetic task in a few CPU minutes (LeRobot options, passed through).
SMALL_POLICY = [
    "--policy.dim_model=64",
    "--policy.dim_feedforward=256",
    "--policy.n_heads=4",
    "--policy.n_encoder_layers=2",
    "--policy.latent_dim=8",
    "--policy.n_vae_encoder_layers=1",
    "--policy.chunk_size=20",
    "--policy.n_action_steps=20",
    "--policy.optimizer_lr=1e-3",
    "--policy.optimizer_lr_backbone=1e-4",
    "--num_workers=0",
]


def stage(number: int, title: str, argv: list[str]) -> float:
    shown = [Path(argv[0]).name, *argv[1:]]
    print(f"\n=== {number}. {title}\n$ {shlex.join(shown)}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    seconds = time.perf_counter() - t0
    print(f"--- {number}. {title}: {seconds:.0f} s", flush=True)
    return seconds


def loop_artifact(artifacts: Path) -> Path:
    """act.plan where this machine can run it (library, version, GPU: the runner's own check),
    else act.onnx, saying why."""
    from act_tool.runtime.runners import compat
    from act_tool.spec import EngineSpec, spec_path

    plan, onnx = artifacts / "act.plan", artifacts / "act.onnx"
    if not plan.exists():
        print("(the loop runs act.onnx: no TensorRT engine was built)", flush=True)
        return onnx
    problem = compat.plan_problem(EngineSpec.read(spec_path(plan)), plan)
    if problem:
        print(f"(the loop runs act.onnx, not act.plan: {problem})", flush=True)
        return onnx
    return plan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--output", type=Path, default=Path("demo-out"))
    ap.add_argument("--steps", type=int, default=800, help="training steps (about 0.25 s each)")
    args = ap.parse_args()
    out = args.output.resolve()
    marker = out / ".act-tool-demo"
    if out.exists() and any(out.iterdir()):
        if not marker.exists():
            sys.exit(f"{out} exists and is not a demo folder; pass another --output")
        shutil.rmtree(out)  # an earlier demo's folder: start clean so every stage runs
    out.mkdir(parents=True, exist_ok=True)
    marker.touch()
    act = str(BIN / "act-tool")
    data, run, artifacts = out / "data", out / "run", out / "artifacts"
    t0 = time.perf_counter()

    stage(
        1,
        "A synthetic pick-and-place dataset (LeRobot format, two cameras)",
        [act, "dataset", "synth", "-o", str(data), "--episodes", "8", "--frames", "90"],
    )
    stage(
        2,
        f"Train a small ACT on the CPU ({args.steps} steps, LeRobot's training)",
        [
            act,
            "train",
            "--dataset",
            str(data),
            "-o",
            str(run),
            "--steps",
            str(args.steps),
            "--device",
            "cpu",
            "--no-pretrained-backbone",
            "--",
            *SMALL_POLICY,
        ],
    )
    checkpoint = run / "checkpoints" / "last" / "pretrained_model"
    stage(
        3,
        "Export: ONNX checked against LeRobot, FP16, TensorRT engine",
        [act, "export", str(checkpoint), "--fp16", "-o", str(artifacts)],
    )
    engine = loop_artifact(artifacts)
    log = out / "run.jsonl"
    stage(
        4,
        f"Ten seconds on the virtual SO-101 with synthetic cameras ({engine.name})",
        [
            act,
            "run",
            "--engine",
            str(engine),
            "--port",
            "emulated",
            "--duration",
            "10",
            "--log",
            str(log),
        ],
    )
    stage(
        5,
        "Bench: every backend here against LeRobot eager, and the control tick",
        [
            act,
            "bench",
            "--checkpoint",
            str(checkpoint),
            "--onnx",
            str(artifacts / "act.onnx"),
            "--repeats",
            "20",
            "--seconds",
            "3",
            "--json",
            str(out / "bench.json"),
            "--plot",
            str(out / "bench.png"),
        ],
    )

    print(f"\n=== Done in {time.perf_counter() - t0:.0f} s. Everything is in {out}:")
    for label, path in [
        ("dataset", data),
        ("checkpoint", checkpoint),
        *[(p.name, p) for p in sorted(artifacts.iterdir())],
        ("per-tick log", log),
        ("bench figures", out / "bench.json"),
        ("bench plot", out / "bench.png"),
    ]:
        size = f"{path.stat().st_size / 1e6:7.1f} MB" if path.is_file() else "   folder"
        print(f"  {label:<20}{size}  {path}")
    latency_recap(out / "bench.json")


def latency_recap(bench_json: Path) -> None:
    """The bench's headline, one line per backend that ran, and the control tick's rate."""
    figures = json.loads(bench_json.read_text())
    print(f"\nLatency per action chunk (p50, p99, ratio to {figures['baseline']}, same run):")
    for row in figures["inference"]:
        if row["status"] == "ok":
            lat = row["latency_ms"]
            print(
                f"  {row['name']:<24}{lat['p50']:8.2f} ms {lat['p99']:8.2f} ms"
                f"{row['ratio_to_baseline']:8.2f}x"
            )
    tick = figures.get("control_tick") or {}
    if tick.get("achieved_hz"):
        print(
            f"Control tick: {tick['achieved_hz']:.1f} Hz of {tick['target_hz']:g}, "
            f"{tick['overruns']} overruns"
        )


if __name__ == "__main__":
    main()
