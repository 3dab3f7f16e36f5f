"""The learning curve of a benchmarks/sim_training.sh run: per checkpoint, the training loss
near it and the FP32 artifact's closed-loop results in the twin on the unseen seeds (episode
success and grasp success with 95 % intervals, attempts per episode, the gripper's opening
before its grasps), and how long each phase took.

    .venv/bin/python benchmarks/sim_training_table.py /tmp/simtrain
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from act_tool.eval.results import percent, wilson
from act_tool.train.progress import NUMBER


def losses(train_log: Path) -> dict[int, float]:
    """Step -> loss, from act-tool train's progress lines."""
    text = train_log.read_text(errors="replace").replace("\r", "\n")
    found = re.findall(rf"step (\d+)/\d+\s+loss {NUMBER}", text)
    return {int(s): float(v) for s, v in found}


def loss_at(table: dict[int, float], step: int) -> str:
    """The loss last reported at or before `step` (LeRobot logs every log_freq steps)."""
    before = [s for s in table if s <= step]
    return f"{table[max(before)]:.3f}" if before else "-"


def seconds(folder: Path, a: str, b: str) -> float | None:
    pa, pb = folder / a, folder / b
    if not (pa.exists() and pb.exists()):
        return None
    return int(pb.read_text()) - int(pa.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    args = ap.parse_args()
    d = args.folder
    table = losses(d / "train.log")
    lines = [
        "| checkpoint | training loss (last logged) | episode success [95 % CI] | "
        "grasp success [95 % CI] | attempts / episode | pad gap before grasps (mm) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for path in sorted(d.glob("eval_[0-9]*.json")):
        step = int(path.stem.split("_")[1])
        b = json.loads(path.read_text())["backends"][0]
        s, g = b["success"], b["grasp"]
        gaps = [x for e in b["per_episode"] for x in e.get("opening_gaps_mm", [])]
        attempts = b["attempts_per_episode"]
        lines.append(
            f"| {step} | {loss_at(table, step)} | "
            f"{percent(s['count'], s['judged'], *wilson(s['count'], s['judged']))} | "
            f"{percent(g['successful'], g['attempts'], *wilson(g['successful'], g['attempts']))}"
            f" | {'-' if attempts is None else f'{attempts:.2f}'} | "
            f"{f'{np.mean(gaps):.1f}' if gaps else '-'} |"
        )
    times = {
        "dataset": seconds(d, "t0", "t1_data"),
        "training": seconds(d, "t1_data", "t2_train"),
        "export and eval per precision": seconds(d, "t2_train", "t4_precisions"),
        "export and eval per checkpoint": seconds(d, "t4_precisions", "t5_curve"),
    }
    lines += ["", "Wall time: " + ", ".join(f"{k} {v} s" for k, v in times.items() if v) + "."]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
