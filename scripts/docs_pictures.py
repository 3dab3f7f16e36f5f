"""The documentation's pictures, made from real runs (nothing is drawn by hand).

    python scripts/docs_pictures.py twin ART/act.onnx --success-seed 1000 --failure-seed 1006
    python scripts/docs_pictures.py loop ART/act.onnx
    python scripts/docs_pictures.py bench

twin   two `act-tool eval --sim` episodes of the policy (one seed it solves, one it fails), run
       through the real command in this process; while they run, the twin's front camera is
       also rendered at 240x320 every few ticks. Each episode becomes a strip of frames, the
       grasp attempts the twin's detectors counted marked (docs/img/twin_success.png,
       docs/img/twin_failure.png). ART: an export of models/act_so101_twin, e.g.
       `act-tool export models/act_so101_twin --builder onnx -o ART`.
loop   `act-tool run --port emulated` (the virtual arm, synthetic cameras) with `--log`, then
       the per-stage timing of its ticks as a chart (docs/img/loop_stages.png) and one query
       tick and one plain tick drawn to scale, stage by stage (docs/img/tick.png).
bench  the plot `act-tool bench --plot` wrote for benchmarks/results (docs/img/bench_cpu.png).

Needs the `sim`, `bench` (matplotlib) and `export` extras. Keep each PNG to a few hundred kB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
EVERY = 3  # render the big frame every 3 ticks (0.1 s at 30 Hz)
BIG = (240, 320)


# --- twin -------------------------------------------------------------------------------------


def _record_big_frames(store: dict[int, dict[int, np.ndarray]]) -> None:
    """While `act-tool eval --sim` runs here, also render the front camera at BIG every EVERY
    ticks (the episode's own video is at the policy's 96x128): the twin of the running episode
    is remembered when its SimEpisodes is built, and the video recorder is replaced by one that
    renders from it. Frames go to store[seed][tick]."""
    from act_tool.eval import sim_episodes

    twins = []
    original_init = sim_episodes.SimEpisodes.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        twins.append(self.twin)

    class BigFrames:
        def __init__(self, path: Path, frames, fps: float) -> None:
            self.seed = int(Path(path).stem.rsplit("seed", 1)[1])
            self.ticks = 0
            store[self.seed] = {}

        def add(self) -> None:
            if self.ticks % EVERY == 0:
                out = np.zeros((*BIG, 3), np.uint8)
                twins[-1].render("front", out)
                store[self.seed][self.ticks] = out
            self.ticks += 1

        def close(self) -> None:
            pass

    sim_episodes.SimEpisodes.__init__ = init
    sim_episodes.EpisodeVideo = BigFrames


def _eval_episode(artifact: Path, seed: int, folder: Path) -> dict:
    import typer

    from act_tool.cli import app

    json_path = folder / f"eval_{seed}.json"
    args = ["eval", str(artifact), "--sim", "--episodes", "1", "--seed", str(seed)]
    args += ["--json", str(json_path), "--video", str(folder)]
    print("act-tool " + " ".join(args), flush=True)
    typer.main.get_command(app).main(args, prog_name="act-tool", standalone_mode=False)
    return json.loads(json_path.read_text())["backends"][0]["per_episode"][0]


def _label(img: np.ndarray, text: str, colour=(255, 255, 255)) -> None:
    cv2.rectangle(img, (0, 0), (img.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(img, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)


def _strip(frames: dict[int, np.ndarray], episode: dict, fps: float, title: str) -> np.ndarray:
    """Six to eight frames across the episode, in rows of four; each grasp attempt's frame
    framed in orange."""
    rendered = sorted(frames)
    last = rendered[-1]
    attempts = [min(rendered, key=lambda t, g=g: abs(t - g)) for g in episode["grasp_ticks"]]
    end = episode["steps_to_success"] or last
    picks = set(np.linspace(0, min(end, last), 6).round().astype(int).tolist())
    picks = {min(rendered, key=lambda t, p=p: abs(t - p)) for p in picks} | set(attempts)
    if not episode["success"]:
        picks.add(last)
    tiles = []
    for tick in sorted(picks):
        img = frames[tick].copy()
        if tick in attempts:
            k = attempts.index(tick) + 1
            cv2.rectangle(img, (0, 0), (img.shape[1] - 1, img.shape[0] - 1), (0, 140, 255), 6)
            _label(img, f"t={tick / fps:.1f} s  grasp attempt {k}", (0, 170, 255))
        else:
            _label(img, f"t={tick / fps:.1f} s")
        tiles.append(img)
    per_row = 4  # rows of four frames: readable in a page's column
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % per_row)
    pad = np.full((BIG[0], 4, 3), 255, np.uint8)
    rows = []
    for i in range(0, len(tiles), per_row):
        row = tiles[i : i + per_row]
        rows.append(np.concatenate([x for t in row for x in (t, pad)][:-1], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    grid = np.concatenate(rows[:-1], axis=0)
    head = np.full((30, grid.shape[1], 3), 255, np.uint8)
    cv2.putText(head, title, (6, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([head, grid], axis=0)


def twin_pictures(artifact: Path, success_seed: int, failure_seed: int, out: Path) -> None:
    from act_tool.spec import EngineSpec, spec_path

    fps = EngineSpec.read(spec_path(artifact)).fps
    store: dict[int, dict[int, np.ndarray]] = {}
    _record_big_frames(store)
    with tempfile.TemporaryDirectory() as tmp:
        for seed, name in ((success_seed, "twin_success"), (failure_seed, "twin_failure")):
            ep = _eval_episode(artifact, seed, Path(tmp))
            verdict = "success" if ep["success"] else "failure"
            title = (
                f"seed {seed}: {verdict}, {ep['stop_reason']}; grasp attempts "
                f"{ep['grasp_attempts']}, successful grasps {ep['successful_grasps']}"
            )
            strip = _strip(store[seed], ep, fps, title)
            scale = min(1.0, 1000 / strip.shape[1])
            if scale < 1:
                strip = cv2.resize(strip, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            _write(out / f"{name}.png", strip)


# --- loop -------------------------------------------------------------------------------------


def _run_log(artifact: Path, folder: Path, seconds: float) -> list[dict]:
    log = folder / "run.jsonl"
    cli = "import sys; from act_tool.cli import app; sys.argv[0] = 'act-tool'; app()"
    cmd = [sys.executable, "-c", cli, "run", "--engine", str(artifact)]
    cmd += ["--port", "emulated", "--duration", str(seconds), "--log", str(log)]
    cmd += ["--rt-priority", "0"]
    print(" ".join(["act-tool"] + cmd[3:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def loop_pictures(artifact: Path, out: Path, seconds: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from act_tool.runtime.telemetry import PLAIN_TICK, QUERY_TICK, STAGES

    with tempfile.TemporaryDirectory() as tmp:
        rows = _run_log(artifact, Path(tmp), seconds)
    rows = rows[10:]  # the first ticks pay the warm-up
    kinds = {"query ticks (inference)": [r for r in rows if r["inferred"]]}
    kinds["plain ticks (action from the queue)"] = [r for r in rows if not r["inferred"]]
    stages = [s for s in STAGES if s != "slack"]

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, (kind, ticks) in zip(axes, kinds.items(), strict=True):
        ms = np.array([[r[s] * 1e3 for s in stages] for r in ticks])
        y = np.arange(len(stages))
        ax.barh(y - 0.2, np.percentile(ms, 50, axis=0), 0.4, label="p50")
        ax.barh(y + 0.2, np.percentile(ms, 99, axis=0), 0.4, label="p99")
        ax.set_yticks(y, stages)
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlabel("ms (symmetric log scale)")
        ax.set_title(f"{kind}, n={len(ticks)}", fontsize=10)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(loc="lower right")
    fig.suptitle(
        f"act-tool run --port emulated: time per stage of a 30 Hz tick ({artifact.name})",
        fontsize=11,
    )
    fig.tight_layout()
    _save(fig, out / "loop_stages.png")

    # One tick of each kind to scale: the plan's stages in order, each the median of its
    # measured duration; a stage the plan visits twice (the sync-read is sent, then collected)
    # is drawn as two halves of its measured total.
    fig, axes = plt.subplots(2, 1, figsize=(10, 3.6))
    colours = dict(zip(STAGES, plt.cm.tab10.colors, strict=False))
    rows_by_kind = (
        (QUERY_TICK, kinds["query ticks (inference)"], "query tick"),
        (PLAIN_TICK, kinds["plain ticks (action from the queue)"], "plain tick"),
    )
    for ax, (plan, ticks, name) in zip(axes, rows_by_kind, strict=True):
        medians = {s: float(np.median([r[s] for r in ticks])) * 1e3 for s in STAGES}
        total = sum(medians[s] for s in set(plan))
        x = 0.0
        for stage in plan:
            width = medians[stage] / plan.count(stage)
            ax.barh(0, width, left=x, color=colours[stage], edgecolor="white")
            if width > 0.1 * total:
                ax.text(x + width / 2, 0, stage, ha="center", va="center", fontsize=8)
            x += width
        ax.set_xlim(0, total * 1.02)
        ax.set_yticks([0], [name])
        ax.set_title(
            f"{name}: {total:.2f} ms of work (median per stage), then slack until the next "
            f"tick ({len(ticks)} ticks)",
            fontsize=9,
            loc="left",
        )
        ax.set_xlabel("ms from the tick's start", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[s]) for s in STAGES if s != "slack"]
    fig.legend(handles, [s for s in STAGES if s != "slack"], ncol=7, fontsize=8, loc="lower center")
    fig.suptitle("The control tick in order (act-tool run --port emulated)", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    _save(fig, out / "tick.png")


# --- bench ------------------------------------------------------------------------------------


def bench_picture(out: Path) -> None:
    source = ROOT / "benchmarks" / "results" / "bench_cpu.png"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, out / "bench_cpu.png")
    print(f"{out / 'bench_cpu.png'} ({source.stat().st_size // 1024} kB, from {source})")


# --- files ------------------------------------------------------------------------------------


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{path} ({path.stat().st_size // 1024} kB)")


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"{path} ({path.stat().st_size // 1024} kB)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=IMG, help="where the PNGs go")
    sub = parser.add_subparsers(dest="what", required=True)
    twin = sub.add_parser("twin", help="frame strips of a successful and a failed episode")
    twin.add_argument("artifact", type=Path)
    twin.add_argument("--success-seed", type=int, default=1000)
    twin.add_argument("--failure-seed", type=int, default=1006)
    loop = sub.add_parser("loop", help="per-stage timing and the tick, from act-tool run")
    loop.add_argument("artifact", type=Path)
    loop.add_argument("--seconds", type=float, default=10.0)
    sub.add_parser("bench", help="the bench plot of benchmarks/results")
    args = parser.parse_args(argv)
    if args.what == "twin":
        twin_pictures(args.artifact, args.success_seed, args.failure_seed, args.out)
    elif args.what == "loop":
        loop_pictures(args.artifact, args.out, args.seconds)
    else:
        bench_picture(args.out)


if __name__ == "__main__":
    main()
