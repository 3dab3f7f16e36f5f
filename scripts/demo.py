"""`make demo`: the tour of act-tool on a machine with no robot and no GPU.

Each stage is one `act-tool` command, printed before it runs, so the demo teaches the tool:
scripted demonstrations in the MuJoCo twin of the SO-101 cell, a small policy trained on the CPU,
export (ONNX checked against LeRobot, FP16, TensorRT engine), the FP16 artifact evaluated in
closed loop in the twin beside LeRobot's own policy on unseen seeds, a few seconds of `run` on
the simulated arm in real time, and a bench.

A policy trained within the demo's minutes rarely does the task: the demo prints what it
achieves, then exports and evaluates the policy this project ships (models/act_so101_twin, made
by `make twin-policy`), which does, and points at a video of a successful episode.
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
# A small ACT for the twin's 96x128 cameras (LeRobot options, passed through).
SMALL_POLICY = [
    "--policy.dim_model=128",
    "--policy.dim_feedforward=512",
    "--policy.n_heads=4",
    "--policy.n_encoder_layers=2",
    "--policy.latent_dim=16",
    "--policy.n_vae_encoder_layers=2",
    "--policy.chunk_size=20",
    "--policy.n_action_steps=10",
    "--policy.optimizer_lr=3e-4",
    "--policy.optimizer_lr_backbone=1e-4",
    "--num_workers=1",
]
EVAL_SEED = 1000  # evaluation layouts: disjoint from the dataset's seeds 0..episodes-1
# The policy this project trained with `make twin-policy` and ships (LeRobot's pretrained_model).
SHIPPED = Path(__file__).resolve().parents[1] / "models" / "act_so101_twin"


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
        print("(run uses act.onnx: no TensorRT engine was built)", flush=True)
        return onnx
    problem = compat.plan_problem(EngineSpec.read(spec_path(plan)), plan)
    if problem:
        print(f"(run uses act.onnx, not act.plan: {problem})", flush=True)
        return onnx
    return plan


def fresh_output(out: Path) -> None:
    """An empty demo folder; an earlier demo's is cleared, anything else is refused."""
    marker = out / ".act-tool-demo"
    if out.exists() and any(out.iterdir()):
        if not marker.exists():
            sys.exit(f"{out} exists and is not a demo folder; pass another --output")
        shutil.rmtree(out)  # an earlier demo's folder: start clean so every stage runs
    out.mkdir(parents=True, exist_ok=True)
    marker.touch()


def stages(args: argparse.Namespace, out: Path) -> list[tuple[str, list[str]]]:
    """Every stage's title and command line but the run's (its artifact is chosen after export)."""
    act = str(BIN / "act-tool")
    data, checkpoint, artifacts = out / "data", checkpoint_dir(out), out / "artifacts"
    return [
        (
            f"Scripted demonstrations in the MuJoCo twin ({args.episodes} episodes, LeRobot format)",
            [act, "dataset", "sim", "-o", str(data), "--episodes", str(args.episodes)],
        ),
        (
            f"Train a small ACT on the CPU ({args.steps} steps, LeRobot's training)",
            [
                act,
                "train",
                "--dataset",
                str(data),
                "-o",
                str(out / "run"),
                "--steps",
                str(args.steps),
                "--device",
                "cpu",
                "--no-pretrained-backbone",
                "--",
                *SMALL_POLICY,
            ],
        ),  # fmt: skip
        (
            "Export: ONNX checked against LeRobot on the dataset's frames, FP16, TensorRT engine",
            [
                act,
                "export",
                str(checkpoint),
                "--fp16",
                "--dataset",
                str(data),
                "-o",
                str(artifacts),
            ],
        ),  # fmt: skip
        (
            f"Closed loop in the twin: the FP16 artifact beside LeRobot eager, "
            f"{args.eval_episodes} unseen layouts",
            [
                act,
                "eval",
                str(artifacts / "act.fp16.onnx"),
                "--sim",
                "--episodes",
                str(args.eval_episodes),
                "--seed",
                str(EVAL_SEED),
                "--episode-time",
                "10",
                "--compare",
                "lerobot",
                "--video",
                str(out / "videos"),
                "--json",
                str(out / "eval.json"),
            ],
        ),  # fmt: skip
    ]


def shipped_stages(args: argparse.Namespace, out: Path) -> list[tuple[str, list[str]]]:
    """The shipped policy, which does the task: exported and evaluated like the demo's own."""
    act, shipped = str(BIN / "act-tool"), out / "shipped"
    return [
        (
            f"The shipped policy ({SHIPPED.name}, trained by `make twin-policy`): export, FP16",
            [
                act,
                "export",
                str(SHIPPED),
                "--fp16",
                "--builder",
                "onnx",
                "-o",
                str(shipped / "artifacts"),
            ],
        ),  # fmt: skip
        (
            f"The shipped policy in closed loop: FP16 beside LeRobot, {args.eval_episodes} unseen "
            "layouts",
            [
                act,
                "eval",
                str(shipped / "artifacts" / "act.fp16.onnx"),
                "--sim",
                "--episodes",
                str(args.eval_episodes),
                "--seed",
                str(EVAL_SEED),
                "--compare",
                "lerobot",
                "--jobs",
                "2",
                "--video",
                str(shipped / "videos"),
                "--json",
                str(shipped / "eval.json"),
            ],
        ),  # fmt: skip
    ]


def successful_video(eval_json: Path) -> str | None:
    """The video of the first episode the FP16 artifact finished, if any."""
    figures = json.loads(eval_json.read_text())
    for episode in figures["backends"][0].get("per_episode", []):
        if episode.get("success") and episode.get("video"):
            return episode["video"]
    return None


def checkpoint_dir(out: Path) -> Path:
    return out / "run" / "checkpoints" / "last" / "pretrained_model"


def run_and_bench(out: Path, first: int) -> None:
    act = str(BIN / "act-tool")
    artifacts, checkpoint = out / "artifacts", checkpoint_dir(out)
    engine = loop_artifact(artifacts)
    stage(
        first,
        f"Five seconds of `run` on the simulated arm, in real time ({engine.name})",
        [act, "run", "--engine", str(engine), "--port", "sim", "--seed", str(EVAL_SEED),
         "--duration", "5", "--log", str(out / "run.jsonl")],
    )  # fmt: skip
    stage(
        first + 1,
        "Bench: every backend here against LeRobot eager, and the control tick",
        [act, "bench", "--checkpoint", str(checkpoint), "--onnx", str(artifacts / "act.onnx"),
         "--repeats", "20", "--seconds", "3", "--json", str(out / "bench.json"), "--plot",
         str(out / "bench.png")],
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--output", type=Path, default=Path("demo-out"))
    ap.add_argument("--episodes", type=int, default=20, help="demonstrations (about 2 s each)")
    ap.add_argument(
        "--steps", type=int, default=1000, help="training steps (0.5 to 1.5 s each on 2 cores)"
    )
    ap.add_argument("--eval-episodes", type=int, default=10, help="closed-loop episodes")
    args = ap.parse_args()
    out = args.output.resolve()
    fresh_output(out)
    t0 = time.perf_counter()
    planned = stages(args, out) + shipped_stages(args, out)
    for number, (title, argv) in enumerate(planned, start=1):
        stage(number, title, argv)
    run_and_bench(out, len(planned) + 1)
    print(f"\n=== Done in {time.perf_counter() - t0:.0f} s. Everything is in {out}:")
    inventory(out)
    eval_recap(out / "eval.json", "the demo's own policy")
    eval_recap(out / "shipped" / "eval.json", f"the shipped policy ({SHIPPED.name})")
    video = successful_video(out / "shipped" / "eval.json")
    if video:
        print(f"  a successful episode of the shipped policy: {video}")
    latency_recap(out / "bench.json")


def inventory(out: Path) -> None:
    artifacts = out / "artifacts"
    for label, path in [
        ("dataset", out / "data"),
        ("checkpoint", checkpoint_dir(out)),
        *[(p.name, p) for p in sorted(artifacts.iterdir())],
        ("episode videos", out / "videos"),
        ("shipped policy's videos", out / "shipped" / "videos"),
        ("eval results", out / "eval.json"),
        ("per-tick log", out / "run.jsonl"),
        ("bench figures", out / "bench.json"),
        ("bench plot", out / "bench.png"),
    ]:
        size = f"{path.stat().st_size / 1e6:7.1f} MB" if path.is_file() else "   folder"
        print(f"  {label:<20}{size}  {path}")


def eval_recap(eval_json: Path, which: str) -> None:
    """What a policy achieved in closed loop, per backend, said plainly."""
    figures = json.loads(eval_json.read_text())
    seeds = figures["seeds"]
    print(f"\nClosed loop in the twin, {which}, seeds {seeds[0]}..{seeds[-1]}:")
    for b in figures["backends"]:
        s, g = b["success"], b["grasp"]
        print(
            f"  {b['backend']:<24} episode success {s['count']}/{s['judged']}, "
            f"grasps {g['successful']}/{g['attempts']}, {b['mean_episode_wall_s']:.1f} s wall/episode"
        )
    if which.startswith("the demo") and not any(b["success"]["count"] for b in figures["backends"]):
        print(
            "  (a policy trained for the demo's few minutes rarely finishes the task; the "
            "shipped policy below was trained by `make twin-policy`: "
            "benchmarks/results/sim_training.md)"
        )


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
