"""What one ACT training step costs on this machine, loop by loop (benchmarks/results/
train_step_cpu.md): the demo's policy (scripts/demo.py SMALL_POLICY, batch 8) on a twin dataset.

    1. LeRobot's own trainer (`python -m lerobot.scripts.lerobot_train`), FP32, one loader worker
    2. `act-tool train`: LeRobot's trainer with the frames in memory, FP32: LeRobot's AdamW as
       LeRobot builds it, then on PyTorch's fused kernel, then also with the backbone's images in
       channels-last order (VARIANTS; act-tool's defaults: fused, channels-last under --bf16)
    3. the same with --bf16 (LeRobot's policy.use_amp: BF16 autocast)
    4. `act-tool train --freeze-backbone` (features computed once), FP32 and --bf16

Rows 1-3 read LeRobot's own per-interval averages (updt_s + data_s); row 4 the loop's own
timestamps. The first logged interval is warm-up and left out. Run it on a quiet machine:

    .venv/bin/python benchmarks/bench_train_step.py --dataset DIR --backbone FILE --out OUT.md
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from demo import SMALL_POLICY  # noqa: E402

ACT = str(Path(sys.executable).parent / "act-tool")
# LeRobot's loop in act-tool train: (row, ACT_TOOL_FUSED_ADAMW, ACT_TOOL_CHANNELS_LAST)
VARIANTS = (
    ("LeRobot's AdamW loop, NCHW images", "0", "0"),
    ("fused AdamW, NCHW images", "1", "0"),
    ("fused AdamW, channels-last images", "1", "1"),
)
LEROBOT_LINE = re.compile(r"step:(\S+) .*updt_s:([\d.]+) data_s:([\d.]+)")
FROZEN_LINE = re.compile(r"step (\d+)/\d+ loss \S+ \(([\d.]+) s\)")


def policy_args(workers: int) -> list[str]:
    return [a for a in SMALL_POLICY if not a.startswith("--num_workers")] + [
        f"--num_workers={workers}", "--log_freq=20", "--save_freq=100000"]  # fmt: skip


def lerobot_ms(log: str) -> tuple[float, float]:
    """(update ms, data ms) averaged over the logged intervals after the first."""
    rows = [(float(u), float(d)) for _, u, d in LEROBOT_LINE.findall(log)][1:]
    if not rows:
        raise SystemExit(f"no LeRobot metrics in the output:\n{log[-2000:]}")
    return (1000 * sum(u for u, _ in rows) / len(rows), 1000 * sum(d for _, d in rows) / len(rows))


def run(argv: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(
            f"{' '.join(argv[:4])} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done.stdout + done.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--backbone", type=Path, required=True, help="act-tool backbone's file")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--frozen-steps", type=int, default=2000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--skip-frozen", action="store_true", help="LeRobot's loop's rows only")
    args = ap.parse_args()
    rows: list[tuple[str, float, str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    env = {**os.environ, "ACT_TOOL_FEATURE_CACHE": str(tmp / "features")}
    try:
        from act_tool.train.command import TrainOptions, build_command

        opts = TrainOptions(output=tmp / "lerobot", dataset_repo_id="local/sim", dataset_root=args.dataset,
                            steps=args.steps, batch_size=8, device="cpu", pretrained_backbone=False,
                            extra=tuple(policy_args(1)))  # fmt: skip
        cmd = build_command(opts)
        cmd[2] = "lerobot.scripts.lerobot_train"  # LeRobot's trainer itself, its own loader
        u, d = lerobot_ms(run(cmd, {**env, "HF_HUB_OFFLINE": "1"}))
        rows.append(
            ("LeRobot's trainer, FP32, 1 loader worker", u + d, f"update {u:.0f} + data {d:.0f}")
        )
        for name, flags in (("FP32", []), ("--bf16", ["--bf16"])):
            for i, (variant, fused, layout) in enumerate(VARIANTS):
                out = tmp / f"m{name}{i}"
                run([ACT, "train", "--dataset", str(args.dataset), "-o", str(out),
                     "--steps", str(args.steps), "--batch-size", "8", "--device", "cpu",
                     "--no-pretrained-backbone", *flags, "--", *policy_args(0)],
                    {**env, "ACT_TOOL_FUSED_ADAMW": fused, "ACT_TOOL_CHANNELS_LAST": layout})  # fmt: skip
                u, d = lerobot_ms((out / "act_tool_train.log").read_text())
                rows.append(
                    (
                        f"act-tool train, frames in memory, {name}, {variant}",
                        u + d,
                        f"update {u:.0f} + data {d:.0f}",
                    )
                )
        for name, flags in () if args.skip_frozen else (("FP32", []), ("--bf16", ["--bf16"])):
            t0 = time.perf_counter()
            log = run([ACT, "train", "--dataset", str(args.dataset), "-o", str(tmp / f"f{name}"),
                       "--steps", str(args.frozen_steps), "--batch-size", "8", "--device", "cpu",
                       "--backbone", str(args.backbone), "--freeze-backbone", *flags, "--",
                       *policy_args(0)], env)  # fmt: skip
            wall = time.perf_counter() - t0
            points = [(int(s), float(t)) for s, t in FROZEN_LINE.findall(log)]
            (s0, t0_), (s1, t1) = points[len(points) // 4], points[-1]
            ms = 1000 * (t1 - t0_) / (s1 - s0)
            feats = re.search(r"features: \d+ frames in (\d+) s", log)
            note = f"features once: {feats.group(1)} s" if feats else "features reused"
            rows.append(
                (f"act-tool train --freeze-backbone, {name}", ms, f"{note}; whole run {wall:.0f} s")
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = rows[0][1]
    lines = [
        "# One ACT training step on this CPU, loop by loop",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{time.strftime('%Y-%m-%d')}. Policy: the demo's (dim 128, two 96x128 cameras), batch 8. "
        f"`benchmarks/bench_train_step.py` ({args.steps} steps per LeRobot row, "
        f"{args.frozen_steps} per frozen row; the first interval left out).",
        "",
        "| loop | ms per step | vs LeRobot's trainer | where the time goes |",
        "| --- | --- | --- | --- |",
        *[f"| {n} | {ms:.1f} | {base / ms:.1f}x faster | {note} |" for n, ms, note in rows],
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
