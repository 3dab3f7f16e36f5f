"""`act-tool eval`: closed-loop episodes with the measures users report (registered on the app in
act_tool/cli.py). With --sim, in the digital twin through the whole deployed stack."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from act_tool.cli_common import fail
from act_tool.cli_run import (
    BackendOpt,
    DeviceOpt,
    ForceOpt,
    MaxRelativeTargetOpt,
    NActionStepsOpt,
    NoRangeClampOpt,
    SkipSelfCheckOpt,
    TemporalEnsembleCoeffOpt,
    ThreadsOpt,
    UnitsOpt,
)
from act_tool.errors import ActToolError
from act_tool.robot_types import Units
from act_tool.runtime.runners.options import Device


class Compare(StrEnum):
    LEROBOT = "lerobot"


def eval_command(
    target: Annotated[
        Path,
        typer.Argument(
            help="An exported act.onnx / act.fp16.onnx / act.plan (its spec JSON beside it), or "
            "a LeRobot checkpoint folder (PyTorch runner)."
        ),
    ],
    sim: Annotated[
        bool,
        typer.Option("--sim", help="Evaluate in the digital twin of the SO-101 cell (MuJoCo)."),
    ] = False,
    episodes: Annotated[int, typer.Option(help="Episodes per backend.")] = 20,
    seed: Annotated[
        int,
        typer.Option(
            help="Seed of the first episode's layout (episode i: seed + i). Keep evaluation "
            "seeds apart from the training dataset's (dataset sim uses 0.. by default)."
        ),
    ] = 1000,
    episode_time: Annotated[
        float, typer.Option(help="Seconds per episode (twin time); the expert needs 8.2.")
    ] = 12.0,
    compare: Annotated[
        Compare | None, typer.Option(help="Also run LeRobot's own policy on the same seeds.")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="LeRobot checkpoint for --compare (default: the spec's source)."),
    ] = None,
    cameras: Annotated[
        str | None,
        typer.Option(help="Map policy cameras to the twin's, e.g. wrist_cam=sim:handeye."),
    ] = None,
    video: Annotated[
        Path | None, typer.Option(help="Folder for an MP4 per episode (cameras side by side).")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results (per episode) here.")
    ] = None,
    jobs: Annotated[int, typer.Option(help="Episodes in parallel processes.")] = 1,
    backend: BackendOpt = None,
    n_action_steps: NActionStepsOpt = None,
    temporal_ensemble_coeff: TemporalEnsembleCoeffOpt = None,
    force: ForceOpt = False,
    max_relative_target: MaxRelativeTargetOpt = None,
    no_range_clamp: NoRangeClampOpt = False,
    device: DeviceOpt = Device.AUTO,
    threads: ThreadsOpt = None,
    units: UnitsOpt = Units.DEGREES,
    skip_self_check: SkipSelfCheckOpt = False,
) -> None:
    """Evaluate a policy in closed loop: episode success, grasps, attempts, per backend."""
    from act_tool.eval.evaluate import EvalOptions
    from act_tool.runtime.loop_config import LoopConfig
    from act_tool.runtime.runners import RunnerOptions

    if not sim:
        fail(ActToolError("give --sim: evaluation in the digital twin (the arm: act-tool run)"))
    if max_relative_target is not None:
        fail(ActToolError("--max-relative-target is for a real arm; the twin's runs go without"))
    try:
        options = EvalOptions(
            target=target,
            episodes=episodes,
            seed=seed,
            episode_time_s=episode_time,
            backend=backend.value if backend else None,
            runner=RunnerOptions(device=device, threads=threads, units=units),
            loop=LoopConfig(
                n_action_steps=n_action_steps,
                temporal_ensemble_coeff=temporal_ensemble_coeff,
                force=force,
                clamp_to_training_range=not no_range_clamp,
                warmup=1,
            ),
            cameras=cameras,
            compare=(compare.value,) if compare else (),
            checkpoint=checkpoint,
            video_dir=video,
            json_path=json_path,
            jobs=jobs,
            skip_self_check=skip_self_check,
        )
        report = _run_with_progress(options)
    except ActToolError as e:
        fail(e)
    typer.echo(report.text())
    for label, path in (("per-episode results", json_path), ("videos", video)):
        if path is not None:
            typer.echo(f"{label}: {path}")


def _run_with_progress(options):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from act_tool.eval.evaluate import evaluate

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(backend: str, done: int, total: int) -> None:
            if backend not in tasks:
                tasks[backend] = bar.add_task(f"{backend} episodes", total=total)
            bar.update(tasks[backend], completed=done)

        return evaluate(options, log=bar.console.print, progress=progress)
