"""Closed-loop evaluation speed in the digital twin: how long a lockstep episode of a policy
takes on this machine, and where the time goes (the twin: physics for one period, the cameras'
renders and the bus handing a tick's bytes over; the rest: the loop, the SO-101 driver's bus
transactions and inference).

    .venv/bin/python benchmarks/bench_eval_sim.py artifacts/act.fp16.onnx --episodes 3 \\
        --episode-time 10 --out benchmarks/results/sim_eval_cpu.md

Goal: a 10 s episode of the demo's policy in under 10 s of wall time on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from act_tool.eval.sim_episodes import SimEpisodes
from act_tool.runtime.loop_config import LoopConfig
from act_tool.runtime.runners import open_runner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("artifact", type=Path)
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--episode-time", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--force", action="store_true", help="a policy not trained in the twin")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    runner = open_runner(args.artifact)
    rows = []
    with runner, SimEpisodes(runner.spec) as sim:
        ticks = round(args.episode_time * runner.spec.fps)
        loop = LoopConfig(max_ticks=ticks, rt_priority=0, force=args.force, warmup=1)
        for i in range(args.episodes):
            result = sim.episode(runner, args.seed + i, loop, settle_s=1e9)  # full length
            rows.append(result)
            print(f"seed {result.seed}: {result.ticks} ticks in {result.wall_s:.2f} s", flush=True)
    cams = ", ".join(f"{c.name} {c.height}x{c.width}" for c in runner.spec.cameras)
    wall = np.array([r.wall_s for r in rows])
    sim_wall = np.array([r.sim_wall_s for r in rows])
    ticks = np.array([r.ticks for r in rows])
    lines = [
        "# Closed-loop evaluation speed in the digital twin (CPU)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, no GPU; "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}. Artifact `{args.artifact.name}` "
        f"({runner.description}; cameras {cams}; chunks of {runner.spec.n_action_steps}), "
        f"{args.episodes} episodes of {args.episode_time:g} s of twin time each, run to the end.",
        "",
        "| episode twin time | wall time per episode | ratio | per tick | of which the twin |",
        "| --- | --- | --- | --- | --- |",
        f"| {args.episode_time:g} s | {wall.mean():.2f} s (max {wall.max():.2f}) | "
        f"{wall.mean() / args.episode_time:.2f}x real time | "
        f"{1e3 * wall.sum() / ticks.sum():.2f} ms | {1e3 * sim_wall.sum() / ticks.sum():.2f} ms |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
