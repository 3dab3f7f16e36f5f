"""Task success per precision and backend in the digital twin, beside LeRobot eager:
`act-tool eval --sim` of act.onnx, act.fp16.onnx and act.int8.onnx on ONNX Runtime and on
OpenVINO (where installed), all on the same seeds, and LeRobot's own policy once (its episodes
do not depend on the artifact). A precision is recommended only where its episode success lies
within the 95 % interval of FP32's on the same backend.

    .venv/bin/python benchmarks/eval_precisions.py ARTIFACTS --checkpoint CKPT --episodes 20 \\
        --seed 1000 --out benchmarks/results/eval_precisions.md
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from act_tool.eval.jobs import LEROBOT_LABEL
from act_tool.eval.results import percent, wilson

ACT_TOOL = str(Path(sys.executable).parent / "act-tool")
FILES = (("FP32", "act.onnx"), ("FP16", "act.fp16.onnx"), ("INT8", "act.int8.onnx"))


def run_eval(args: argparse.Namespace, artifact: Path, backend: str, lerobot: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "eval.json"
        argv = [ACT_TOOL, "eval", str(artifact), "--sim", "--episodes", str(args.episodes)]
        argv += ["--seed", str(args.seed), "--backend", backend, "--jobs", str(args.jobs)]
        argv += ["--episode-time", str(args.episode_time), "--json", str(out)]
        if lerobot:
            argv += ["--compare", "lerobot", "--checkpoint", str(args.checkpoint)]
        print("$", " ".join(argv[1:]), flush=True)
        subprocess.run(argv, check=True)
        return json.loads(out.read_text())


def row(label: str, summary: dict) -> dict:
    s, g = summary["success"], summary["grasp"]
    return {
        "label": label,
        "wins": s["count"],
        "n": s["judged"],
        "grasps": g["successful"],
        "attempts": g["attempts"],
        "wall": summary["mean_episode_wall_s"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("artifacts", type=Path, help="export's folder (act.onnx, ...)")
    ap.add_argument("--checkpoint", type=Path, required=True, help="for LeRobot's own policy")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--episode-time", type=float, default=12.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    backends = ["onnxruntime"]
    if importlib.util.find_spec("openvino") is not None:
        backends.append("openvino")
    rows, divergence, started = [], None, time.time()
    for backend in backends:
        for precision, name in FILES:
            artifact = args.artifacts / name
            if not artifact.exists():
                print(f"skipped {precision}: no {artifact}", flush=True)
                continue
            first = not rows
            data = run_eval(args, artifact, backend, lerobot=first)
            for summary in data["backends"]:
                if summary["backend"] == LEROBOT_LABEL:
                    rows.insert(0, row("LeRobot eager (PyTorch FP32)", summary))
                    divergence = data.get("divergence_from_lerobot")
                else:
                    rows.append(
                        {**row(f"{precision} on {backend}", summary), "key": (backend, precision)}
                    )
    fp32 = {r["key"][0]: r for r in rows if r.get("key", ("", ""))[1] == "FP32"}
    lines = [
        "| policy | episode success [95 % CI] | grasp success [95 % CI] | wall s/episode | "
        "within FP32's interval |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ok = "-"
        if "key" in r and r["key"][1] != "FP32" and r["key"][0] in fp32:
            lo, hi = wilson(fp32[r["key"][0]]["wins"], fp32[r["key"][0]]["n"])
            ok = "yes" if lo <= r["wins"] / max(r["n"], 1) <= hi else "no"
        lines.append(
            f"| {r['label']} | {percent(r['wins'], r['n'], *wilson(r['wins'], r['n']))} | "
            f"{percent(r['grasps'], r['attempts'], *wilson(r['grasps'], r['attempts']))} | "
            f"{r['wall']:.1f} | {ok} |"
        )
    head = [
        f"Run: `benchmarks/eval_precisions.py {args.artifacts} --checkpoint {args.checkpoint} "
        f"--episodes {args.episodes} --seed {args.seed} --episode-time {args.episode_time:g} "
        f"--jobs {args.jobs}` on {time.strftime('%Y-%m-%d %H:%M', time.gmtime(started))} UTC, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{time.time() - started:.0f} s in all.",
        "",
    ]
    if divergence:
        worst = ", ".join(f"{d['max_deg']:.2f}" for d in divergence)
        head += [f"Largest joint divergence from LeRobot per episode (FP32 on {backends[0]}, "
                 f"degrees or gripper units): {worst}", ""]  # fmt: skip
    text = "\n".join(head + lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
