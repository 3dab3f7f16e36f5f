"""One evaluation job: a backend on some seeds, in this process or a spawned one (everything in
a Job pickles, and the runner and the twin are made inside the job)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from act_tool.errors import ActToolError
from act_tool.eval.evaluate import LEROBOT, EvalOptions, with_backend_threads
from act_tool.eval.results import EpisodeResult
from act_tool.runtime.runners import Runner, open_runner
from act_tool.spec import EngineSpec

LEROBOT_LABEL = "lerobot eager"


@dataclass(frozen=True)
class Job:
    options: EvalOptions
    backend: str  # a label from backends_for
    seeds: list[int]


def _target_runner(options: EvalOptions) -> Runner:
    runner_options = with_backend_threads(options.runner, options.jobs)
    return open_runner(options.target, options.backend, runner_options)


def lerobot_checkpoint(options: EvalOptions, spec: EngineSpec) -> Path:
    """The checkpoint LeRobot's policy comes from: --checkpoint, else the one the spec names."""
    path = options.checkpoint or (Path(spec.source_checkpoint) if spec.source_checkpoint else None)
    if path is None or not Path(path).exists():
        named = f" (the spec names {spec.source_checkpoint})" if spec.source_checkpoint else ""
        raise ActToolError(
            f"--compare lerobot needs the LeRobot checkpoint{named}, and it is not on this "
            "machine: pass --checkpoint PATH/pretrained_model"
        )
    return Path(path)


def backends_for(options: EvalOptions, log: Callable[[str], None]) -> tuple[list[str], list[str]]:
    """The labels of the backends to evaluate, the target's first; usage errors (a missing
    checkpoint for LeRobot, a spec that does not fit the twin) before any episode runs."""
    from act_tool.eval.sim_episodes import camera_sources
    from act_tool.hw.so101.joints import JOINT_NAMES
    from act_tool.runtime.preflight import check_joints

    runner = _target_runner(options)
    spec = runner.spec
    camera_sources(spec, options.cameras)  # the policy's cameras fit the twin's
    check_joints(spec, JOINT_NAMES)  # and its joints the twin's arm (else: inside episode 1)
    labels = [f"{runner.backend} {spec.precision}"]
    notes = []
    if LEROBOT in options.compare:
        checkpoint = lerobot_checkpoint(options, spec)
        labels.append(LEROBOT_LABEL)
        notes.append(f"LeRobot's policy from {checkpoint}")
    log(f"evaluating {', '.join(labels)} on seeds {options.seeds[0]}..{options.seeds[-1]}")
    return labels, notes


def _open(job: Job) -> Runner:
    runner = _target_runner(job.options)
    if job.backend != LEROBOT_LABEL:
        return runner
    from act_tool.eval.lerobot_runner import open_lerobot_runner

    threads = with_backend_threads(job.options.runner, job.options.jobs).threads
    return open_lerobot_runner(lerobot_checkpoint(job.options, runner.spec), runner.spec, threads)


def _video(options: EvalOptions, backend: str, seed: int) -> Path | None:
    if options.video_dir is None:
        return None
    slug = re.sub(r"[^A-Za-z0-9]+", "_", backend).strip("_")
    return Path(options.video_dir) / f"{slug}_seed{seed}.mp4"


def run_job(
    job: Job,
    on_episode: Callable[[int], object] | None = None,
    log: Callable[[str], None] = print,
) -> list[EpisodeResult]:
    """The job's episodes, in seed order. The target's runner is self-checked first, in the
    process that runs it (said by the job with the first seed only)."""
    from act_tool.eval.sim_episodes import SimEpisodes
    from act_tool.runtime.self_check import run_self_check

    options = job.options
    results = []
    with _open(job) as runner:
        if job.backend != LEROBOT_LABEL:  # before the twin is even built
            first = job.seeds[0] == options.seeds[0]
            run_self_check(runner, log if first else lambda _m: None, options.skip_self_check)
        fps = options.loop.fps or runner.spec.fps
        # a whole number of ticks: the twin's time is exact, float sums of periods are not
        ticks = max(1, round(options.episode_time_s * fps))
        loop = replace(options.loop, max_ticks=ticks, duration_s=None, rt_priority=0)
        with SimEpisodes(runner.spec, options.cameras) as sim:
            for seed in job.seeds:
                video = _video(options, job.backend, seed)
                results.append(sim.episode(runner, seed, loop, options.settle_s, video))
                if on_episode is not None:
                    on_episode(len(results))
    return results
