"""`act-tool eval --sim`: closed-loop episodes of an engine (and, with `--compare lerobot`, of
LeRobot's own policy) on the same seeds in the digital twin, summed up as users report them.

Each backend runs every seed; `--jobs N` splits the seeds over N processes (each with its own
twin and runner, so results do not depend on N). With LeRobot beside an artifact, the joint
trajectories of the two on each seed are compared: the largest divergence per episode is the
closed-loop counterpart of export's parity figure.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.errors import ActToolError
from act_tool.eval.results import BackendSummary, EpisodeResult, table
from act_tool.runtime.loop_config import LoopConfig
from act_tool.runtime.runners import RunnerOptions
from act_tool.spec import atomic_write_text

LEROBOT = "lerobot"
Progress = Callable[[str, int, int], None]  # (backend, episodes done, episodes in all)


@dataclass(frozen=True)
class EvalOptions:
    target: Path  # an exported artifact, or a checkpoint folder (PyTorch runner)
    episodes: int = 20
    seed: int = 1000  # the first episode's seed; episode i uses seed + i
    episode_time_s: float = 12.0
    settle_s: float = 1.0  # the task counts as done once it has held this long
    backend: str | None = None
    runner: RunnerOptions = field(default_factory=RunnerOptions)
    loop: LoopConfig = field(default_factory=LoopConfig)
    cameras: str | None = None  # policy camera -> twin camera, e.g. "wrist_cam=sim:handeye"
    compare: tuple[str, ...] = ()  # ("lerobot",): LeRobot's own policy on the same seeds
    checkpoint: Path | None = None  # LeRobot's checkpoint; default: the one the spec names
    video_dir: Path | None = None
    json_path: Path | None = None
    jobs: int = 1
    skip_self_check: bool = False  # evaluate an artifact that has no check file

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ActToolError(f"--episodes must be at least 1, got {self.episodes}")
        if self.episode_time_s <= 0:
            raise ActToolError(f"--episode-time must be positive, got {self.episode_time_s}")
        if self.jobs < 1:
            raise ActToolError(f"--jobs must be at least 1, got {self.jobs}")
        if self.loop.asynchronous:
            raise ActToolError(
                "--async runs inference against the wall clock, and --sim evaluates on the "
                "twin's lockstep clock: evaluate synchronously, or watch --async in real time "
                "with act-tool run --port sim"
            )
        unknown = [c for c in self.compare if c != LEROBOT]
        if unknown:
            raise ActToolError(f"--compare takes 'lerobot', got {', '.join(unknown)}")

    @property
    def seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.episodes)]


@dataclass
class EvalReport:
    summaries: list[BackendSummary]
    divergence: list[dict[str, Any]]  # per seed: the largest joint divergence from LeRobot
    notes: list[str]

    def text(self) -> str:
        lines = [table(self.summaries)]
        if self.divergence:
            worst = max(d["max_deg"] for d in self.divergence)
            median = float(np.median([d["max_deg"] for d in self.divergence]))
            lines.append(
                f"behaviour vs LeRobot on the same seeds: largest joint divergence per episode "
                f"median {median:.3f} deg, worst {worst:.3f} deg"
            )
        return "\n".join(lines + self.notes)

    def to_dict(self, options: EvalOptions) -> dict[str, Any]:
        return {
            "target": str(options.target),
            "seeds": options.seeds,
            "episode_time_s": options.episode_time_s,
            "backends": [
                {**s.to_dict(), "per_episode": [e.to_dict() for e in s.episodes]}
                for s in self.summaries
            ],
            "divergence_from_lerobot": self.divergence,
            "notes": self.notes,
        }


def check_outputs(options: EvalOptions) -> None:
    """Unwritable --json or --video paths are usage errors before anything runs."""
    targets = []
    if options.json_path is not None:
        targets.append(("--json", Path(options.json_path).parent))
    if options.video_dir is not None:
        targets.append(("--video", Path(options.video_dir)))
    for flag, folder in targets:
        check_writable(flag, folder)


def check_writable(flag: str, folder: Path) -> None:
    """A usage error unless `folder` exists (it is created) and takes a file; `flag` names the
    option in the message (also `eval --port`'s --json)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ActToolError(f"{flag}: cannot write into {folder} ({e.strerror or e})") from e


def evaluate(
    options: EvalOptions, log: Callable[[str], None] = print, progress: Progress | None = None
) -> EvalReport:
    """Run every backend on every seed; see the module docstring."""
    from act_tool.eval.jobs import Job, backends_for, run_job

    check_outputs(options)
    backends, notes = backends_for(options, log)
    summaries: list[BackendSummary] = []
    for backend in backends:
        seeds = options.seeds
        chunks = [seeds[i :: options.jobs] for i in range(min(options.jobs, len(seeds)))]
        jobs = [Job(options, backend, chunk) for chunk in chunks]
        results: list[EpisodeResult] = []
        if progress:
            progress(backend, 0, len(seeds))
        if len(jobs) == 1:
            results = run_job(jobs[0], _reporter(progress, backend, len(seeds)), log)
        else:
            context = get_context("spawn")  # a fresh interpreter: its own OpenGL context
            with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
                for job_results in pool.map(run_job, jobs):
                    results += job_results
                    if progress:
                        progress(backend, len(results), len(seeds))
        results.sort(key=lambda r: r.seed)
        summaries.append(BackendSummary(backend, results))
    report = EvalReport(summaries, _divergence(summaries), notes)
    if options.json_path is not None:
        data = report.to_dict(options)
        data["machine"] = {"cpus": os.cpu_count()}
        atomic_write_text(Path(options.json_path), json.dumps(data, indent=2) + "\n")
    return report


def _reporter(progress: Progress | None, backend: str, total: int) -> Callable[[int], None]:
    def report(done: int) -> None:
        if progress is not None:
            progress(backend, done, total)

    return report


def _divergence(summaries: list[BackendSummary]) -> list[dict[str, Any]]:
    """Per seed, the largest difference of any joint (deg, gripper units) between the first
    backend's trajectory and LeRobot's, over the ticks both ran."""
    ours = summaries[0]
    theirs = next((s for s in summaries[1:] if s.name.startswith(LEROBOT)), None)
    if theirs is None or ours is theirs:
        return []
    out = []
    for a, b in zip(ours.episodes, theirs.episodes, strict=True):
        n = min(len(a.trajectory), len(b.trajectory))
        if n == 0:
            continue
        diff = np.abs(np.asarray(a.trajectory[:n]) - np.asarray(b.trajectory[:n]))
        out.append({"seed": a.seed, "ticks": n, "max_deg": round(float(diff.max()), 4)})
    return out


def with_backend_threads(runner: RunnerOptions, jobs: int) -> RunnerOptions:
    """Several jobs share the cores: each runner takes its share."""
    if jobs <= 1 or runner.threads is not None:
        return runner
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return replace(runner, threads=max(1, (cores or 1) // jobs))
