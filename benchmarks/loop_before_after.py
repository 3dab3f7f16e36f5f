"""The loop's own overhead per tick (bench_loop.py, section 1) of two checkouts, measured in one
run: rounds alternate between the checkouts, each round in a fresh process that imports that
checkout's act_tool and bench_loop, so both see the same machine at the same time.

    git worktree add --detach /tmp/before <commit>
    .venv/bin/python benchmarks/loop_before_after.py /tmp/before . --rounds 5 --seconds 15 \
        --out benchmarks/results/loop_before_after.md
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# One round of one checkout: prints {mode: [overhead ms per tick]} as JSON on its last line.
ROUND = r"""
import json, sys, tempfile
from pathlib import Path
root, seconds, awake_ok = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1"
sys.path[:0] = [root, root + "/benchmarks"]
import bench_loop as b
spec = b.bench_spec()
folder = Path(tempfile.mkdtemp(prefix="before-after-"))
out = {}
for label, steps, coeff, awake in (
    ("chunks of 100", 100, None, False),
    ("temporal ensembling", 1, 0.01, False),
    ("chunks of 100, virtual arm awake", 100, None, True),
    ("temporal ensembling, virtual arm awake", 1, 0.01, True),
):
    if awake and not awake_ok:
        continue
    cfg = b.LoopConfig(fps=30, n_action_steps=steps, temporal_ensemble_coeff=coeff,
                       duration_s=seconds)
    cap = b.run_case(b.null_onnx_runner(spec, folder), cfg, wire_time=True, awake=awake)
    rows = cap.rows[5:]  # after the warm-up ticks
    ms = b.stage_ms(rows, *b.ACTIVE) - b.stage_ms(rows, "inference") - b.READ_WIRE_S * 1e3
    out[label] = ms.tolist()
print(json.dumps(out))
"""


def one_round(root: Path, seconds: float, awake_ok: bool) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as cwd:  # neither checkout's folder shadows the other
        done = subprocess.run(
            [sys.executable, "-c", ROUND, str(root.resolve()), str(seconds), str(int(awake_ok))],
            capture_output=True,
            text=True,
            cwd=cwd,
        )
    if done.returncode != 0:
        raise SystemExit(f"a round of {root} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def p99_difference(
    before: list[np.ndarray], after: list[np.ndarray], rng: np.random.Generator, n: int = 2000
) -> tuple[float, float, float]:
    """Pooled p99 after minus before, and its 95 % interval from resampling whole rounds (a
    round's ticks share that moment's machine, so rounds, not ticks, are the samples)."""

    def p99(rounds: list[np.ndarray], pick: np.ndarray) -> float:
        return float(np.percentile(np.concatenate([rounds[i] for i in pick]), 99))

    every_b, every_a = np.arange(len(before)), np.arange(len(after))
    diff = p99(after, every_a) - p99(before, every_b)
    boot = [
        p99(after, rng.choice(every_a, len(after))) - p99(before, rng.choice(every_b, len(before)))
        for _ in range(n)
    ]
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return diff, float(lo), float(hi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--raw", type=Path, default=None, help="every tick's overhead, as JSON")
    args = ap.parse_args()
    import os

    awake_ok = len(os.sched_getaffinity(0)) >= 2
    pooled: dict[str, dict[str, list[np.ndarray]]] = {"before": {}, "after": {}}
    for r in range(args.rounds):
        for name, root in (("before", args.before), ("after", args.after)):
            for mode, ms in one_round(root, args.seconds, awake_ok).items():
                pooled[name].setdefault(mode, []).append(np.asarray(ms))
            print(f"round {r + 1}/{args.rounds}: {name} done", flush=True)
    lines = [
        "| mode | before: p50 / p99 (ms) | before: p99 per round | after: p50 / p99 (ms) | "
        "after: p99 per round | p99 after - before (ms), 95 % bootstrap |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rng = np.random.default_rng(0)
    for mode in pooled["before"]:
        cells = []
        for name in ("before", "after"):
            rounds = pooled[name][mode]
            allticks = np.concatenate(rounds)
            cells.append(f"{np.percentile(allticks, 50):.3f} / {np.percentile(allticks, 99):.3f}")
            cells.append(", ".join(f"{np.percentile(x, 99):.2f}" for x in rounds))
        diff, lo, hi = p99_difference(pooled["before"][mode], pooled["after"][mode], rng)
        cells.append(f"{diff:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    if args.raw:
        raw = {
            n: {m: [x.tolist() for x in r] for m, r in modes.items()} for n, modes in pooled.items()
        }
        args.raw.write_text(json.dumps(raw))
    text = "\n".join(
        [
            f"Run: `benchmarks/loop_before_after.py {args.before} {args.after} --rounds "
            f"{args.rounds} --seconds {args.seconds:g}` on {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} "
            "UTC; rounds alternate between the two checkouts.",
            "",
            *lines,
        ]
    )
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
