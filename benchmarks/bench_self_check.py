"""What the on-target self-check costs at start-up, against the loop's warm-up.

For each model size (the tiny test policy, and LeRobot's full-size ACT with two 480x640 cameras
and random weights), export act.onnx (and act.fp16.onnx), then, for several rounds, each on a
freshly loaded ONNX Runtime runner as `act-tool run` loads it:

- warm-up alone: the loop's warm-up (LoopConfig.warmup inferences) on a fresh runner, as a run
  without the self-check starts;
- self-check: `run_self_check` on a fresh runner (the artifact's hash is the one the runner
  verified when it loaded; hash the check file, read it, CHECK_OBSERVATIONS inferences,
  compare), then the one warm-up inference the loop still runs after a self-check (latency on
  the cameras' buffers), as `act-tool run` now starts.

    .venv/bin/python benchmarks/bench_self_check.py --rounds 5 [--full-size]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from act_tool.bench.machine import cpu_model


def warm_up(runner, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        runner.infer()
    return time.perf_counter() - t


def measure(artifact: Path, rounds: int, warmups: int, after_check: int = 1) -> dict:
    from act_tool.runtime.runners import open_runner
    from act_tool.runtime.self_check import run_self_check

    alone, check, after, figure = [], [], [], None
    for _ in range(rounds):
        with open_runner(artifact) as runner:
            alone.append(warm_up(runner, warmups))
        with open_runner(artifact) as runner:
            t = time.perf_counter()
            result = run_self_check(runner, log=lambda _m: None)
            check.append(time.perf_counter() - t)
            after.append(warm_up(runner, after_check))
            figure = result.worst_rel if result else None
    med = lambda xs: float(np.median(xs)) * 1e3  # noqa: E731
    return {
        "artifact": artifact.name,
        "size_mb": artifact.stat().st_size / 1e6,
        "warmup_alone_ms": med(alone),
        "self_check_ms": med(check),
        "warmup_after_check_ms": med(after),
        "ratio_check_to_warmup": med(check) / med(alone),
        "startup_before_ms": med(alone),
        "startup_now_ms": float(np.median(np.add(check, after))) * 1e3,
        "worst_rel": figure,
        "rounds": rounds,
        "all_ms": {"alone": alone, "check": check, "after": after},
    }


def main() -> None:
    from act_tool.export.pipeline import ExportOptions, run_export
    from act_tool.runtime.loop_config import LoopConfig
    from act_tool.testing.tiny_checkpoint import TinyConfig, save_tiny_checkpoint

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--full-size", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    warmups = LoopConfig().warmup
    cfg = (
        TinyConfig(full_size=True, height=480, width=640, chunk_size=100, n_action_steps=100)
        if args.full_size
        else TinyConfig()
    )
    out = {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
        },
        "model": "full-size ACT, 2 x 480x640" if args.full_size else "tiny test policy, 2 x 64x96",
        "loop_warmup_inferences": warmups,
        "results": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = save_tiny_checkpoint(Path(tmp) / "pretrained_model", cfg)
        result = run_export(
            ExportOptions(ckpt, Path(tmp) / "out", fp16=True, builder="onnx"), log=lambda _m: None
        )
        for artifact in result.artifacts:
            r = measure(artifact, args.rounds, warmups)
            out["results"].append(r)
            print(
                f"{out['model']}: {r['artifact']} ({r['size_mb']:.1f} MB): warm-up alone "
                f"{r['warmup_alone_ms']:.0f} ms, self-check {r['self_check_ms']:.0f} ms "
                f"(x{r['ratio_check_to_warmup']:.2f}), warm-up after it (1 inference) "
                f"{r['warmup_after_check_ms']:.0f} ms; start-up {r['startup_before_ms']:.0f} -> "
                f"{r['startup_now_ms']:.0f} ms; worst error {r['worst_rel']:.1e}"
            )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
