"""`act-tool eval`: closed-loop episodes with the measures users report (registered on the app in
act_tool/cli.py). With --sim, in the digital twin through the whole deployed stack, judged by the
twin's detectors; with --port, on an arm (a real SO-101, `emulated` or `sim`), judged by the
operator, or on `sim` by the twin's detectors again (act_tool.cli_eval_arm)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from act_tool.cli_common import fail
from act_tool.cli_run import (
    AsynchronousOpt,
    BackendOpt,
    CalibrationOpt,
    CudaGraphOpt,
    DeviceOpt,
    DisplayOpt,
    DisplaySaveOpt,
    DryRunOpt,
    ForceOpt,
    FpsOpt,
    LogOpt,
    MaxRelativeTargetOpt,
    NActionStepsOpt,
    NoRangeClampOpt,
    RecordCodecOpt,
    RecordOpt,
    ResumeOpt,
    RobotIdOpt,
    RtPriorityOpt,
    SkipSelfCheckOpt,
    StrictServoErrorsOpt,
    TaskOpt,
    TemporalEnsembleCoeffOpt,
    ThreadsOpt,
    UnitsOpt,
    port_help,
)
from act_tool.compat import StrEnum
from act_tool.errors import ActToolError
from act_tool.eval.arm_episodes import ResetMode
from act_tool.robot_types import Units
from act_tool.runtime.runners.options import Device


class Compare(StrEnum):
    LEROBOT = "lerobot"


# eval's own options (the ones it shares with run come from cli_run).
TargetArg = Annotated[
    Path,
    typer.Argument(
        help="An exported act.onnx / act.fp16.onnx / act.plan (its spec JSON beside it), or "
        "a LeRobot checkpoint folder (PyTorch runner)."
    ),
]

SimArg = Annotated[
    bool,
    typer.Option("--sim", help="Evaluate in the digital twin of the SO-101 cell (MuJoCo)."),
]

PortArg = Annotated[
    str | None,
    typer.Option(
        help=f"Evaluate on an arm: {port_help()}; the operator judges each episode (keys, or "
        "--verdicts); on the simulated arm (sim) the twin does, a fresh layout per episode."
    ),
]

EpisodesArg = Annotated[
    int | None,
    typer.Option(help="Episodes (per backend with --sim); default 20 / 10 on an arm."),
]

SeedArg = Annotated[
    int,
    typer.Option(
        help="Seed of the first episode's layout (episode i: seed + i). Keep evaluation "
        "seeds apart from the training dataset's (dataset sim uses 0.. by default)."
    ),
]

EpisodeTimeArg = Annotated[
    float | None,
    typer.Option(
        help="Seconds per episode; default 12 with --sim (twin time; the expert needs 8.2), "
        "60 on an arm."
    ),
]

ResetTimeArg = Annotated[
    float, typer.Option(help="--port: seconds between episodes for the operator to reset.")
]

ResetArg = Annotated[
    ResetMode,
    typer.Option(
        help="--port: between episodes, torque off (the arm limp), or back to the pose the "
        "arm had at the start (home), holding there."
    ),
]

VerdictsArg = Annotated[
    str | None,
    typer.Option(help="--port, headless: the verdict per episode, e.g. s,f,s (? unknown)."),
]

CompareArg = Annotated[
    Compare | None, typer.Option(help="Also run LeRobot's own policy on the same seeds.")
]

CheckpointArg = Annotated[
    Path | None,
    typer.Option(help="LeRobot checkpoint for --compare (default: the spec's source)."),
]

CamerasArg = Annotated[
    str | None,
    typer.Option(
        help="--sim: map policy cameras to the twin's, e.g. wrist_cam=sim:handeye; "
        "--port: NAME=SOURCE,... as for run."
    ),
]

VideoArg = Annotated[
    Path | None, typer.Option(help="Folder for an MP4 per episode (cameras side by side).")
]

JsonPathArg = Annotated[
    Path | None, typer.Option("--json", help="Write the results (per episode) here.")
]

JobsArg = Annotated[int, typer.Option(help="Episodes in parallel processes.")]


def eval_command(
    target: TargetArg,
    sim: SimArg = False,
    port: PortArg = None,
    episodes: EpisodesArg = None,
    seed: SeedArg = 1000,
    episode_time: EpisodeTimeArg = None,
    reset_time: ResetTimeArg = 20.0,
    reset: ResetArg = ResetMode.OFF,
    verdicts: VerdictsArg = None,
    compare: CompareArg = None,
    checkpoint: CheckpointArg = None,
    cameras: CamerasArg = None,
    video: VideoArg = None,
    json_path: JsonPathArg = None,
    jobs: JobsArg = 1,
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
    robot_id: RobotIdOpt = None,
    calibration: CalibrationOpt = None,
    fps: FpsOpt = None,
    dry_run: DryRunOpt = False,
    strict_servo_errors: StrictServoErrorsOpt = False,
    log: LogOpt = None,
    asynchronous: AsynchronousOpt = False,
    cuda_graph: CudaGraphOpt = False,
    rt_priority: RtPriorityOpt = None,
    record: RecordOpt = None,
    task: TaskOpt = None,
    resume: ResumeOpt = False,
    record_codec: RecordCodecOpt = None,
    display: DisplayOpt = False,
    display_save: DisplaySaveOpt = None,
) -> None:
    """Evaluate a policy in closed loop, in the digital twin or on an arm, with episode success.

    With --sim: success, grasps and attempts per backend, judged by the twin. On an arm (--port):
    the operator's verdicts and interventions, or the twin's on --port sim.
    """
    if sim == (port is not None):
        fail(ActToolError("give --sim (the digital twin) or --port (an arm), one of them"))
    if port is not None:
        from act_tool.cli_eval_arm import eval_on_arm

        eval_on_arm(dict(locals()))
        return
    _eval_in_twin(dict(locals()))


def _eval_in_twin(a: dict) -> None:
    """--sim: episodes in the digital twin (act_tool.eval.evaluate), from eval's arguments."""
    from act_tool.eval.evaluate import EvalOptions
    from act_tool.runtime.loop_config import LoopConfig
    from act_tool.runtime.runners import RunnerOptions

    arm_only = ("record", "record_codec", "verdicts", "robot_id", "calibration", "dry_run",
                "asynchronous", "log", "display", "display_save")  # fmt: skip
    given = ["--" + k.replace("_", "-") for k in arm_only if a[k]]
    if given:
        fail(ActToolError(f"{', '.join(given)}: for an arm (--port), not --sim"))
    if a["max_relative_target"] is not None:
        fail(ActToolError("--max-relative-target is for a real arm; the twin's runs go without"))
    backend, compare = a["backend"], a["compare"]
    try:
        options = EvalOptions(
            target=a["target"],
            episodes=20 if a["episodes"] is None else a["episodes"],
            seed=a["seed"],
            episode_time_s=12.0 if a["episode_time"] is None else a["episode_time"],
            backend=backend.value if backend else None,
            runner=RunnerOptions(device=a["device"], threads=a["threads"], units=a["units"]),
            loop=LoopConfig(
                n_action_steps=a["n_action_steps"],
                temporal_ensemble_coeff=a["temporal_ensemble_coeff"],
                force=a["force"],
                clamp_to_training_range=not a["no_range_clamp"],
                warmup=1,
            ),
            cameras=a["cameras"],
            compare=(compare.value,) if compare else (),
            checkpoint=a["checkpoint"],
            video_dir=a["video"],
            json_path=a["json_path"],
            jobs=a["jobs"],
            skip_self_check=a["skip_self_check"],
        )
        report = _run_with_progress(options)
    except ActToolError as e:
        fail(e)
    typer.echo(report.text())
    for label, path in (("per-episode results", a["json_path"]), ("videos", a["video"])):
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
