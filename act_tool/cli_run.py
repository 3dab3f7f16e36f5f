"""`act-tool run`: the camera-to-servo loop's options, built into their option groups (registered
on the app in act_tool/cli.py). The choices (backends, devices, units, port words, camera
sources) come from their registries. Heavy imports happen inside the command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from act_tool.cli_common import fail
from act_tool.cli_faults import (
    CorruptRepliesOpt,
    FaultSeedOpt,
    FaultsFromOpt,
    LateByOpt,
    LateRepliesOpt,
    LostRepliesOpt,
    MaxMissedStateOpt,
    NoStallProtectionOpt,
    OnStopOpt,
    SqueezeAtOpt,
    SqueezeServoOpt,
    UnplugAfterOpt,
    UnplugServoOpt,
    bus_faults,
)
from act_tool.compat import StrEnum
from act_tool.errors import ActToolError
from act_tool.hw.camera_sources import source_help
from act_tool.robot_types import Units
from act_tool.runtime.arm_kinds import port_words
from act_tool.runtime.runners import BACKENDS
from act_tool.runtime.runners.options import Device

Backend = StrEnum("Backend", {name: name for name in BACKENDS})  # type: ignore[misc]

# Options `run` shares with the commands that drive the arm the same way.
EngineOpt = Annotated[
    Path,
    typer.Option(
        "--engine",
        help="act.plan (TensorRT), act.onnx (ONNX Runtime) or a LeRobot checkpoint folder "
        "(PyTorch); its spec JSON must lie beside it.",
    ),
]


def port_help() -> str:
    """What --port takes: a serial port or one of the arm kinds' words."""
    return "its serial port (/dev/ttyACM0, COM24), or " + " / ".join(map(repr, port_words()))


PortOpt = Annotated[str, typer.Option(help=f"The arm: {port_help()}.")]
CamerasOpt = Annotated[
    str | None,
    typer.Option(
        help=f"NAME=SOURCE,...; {source_help()} (default with --port "
        + " / ".join(port_words())
        + ": the arm's own)."
    ),
]
RobotIdOpt = Annotated[
    str | None, typer.Option(help="Finds LeRobot's calibration file for this robot id.")
]
CalibrationOpt = Annotated[
    Path | None, typer.Option(help="LeRobot calibration file (instead of --robot-id).")
]
SeedOpt = Annotated[
    int, typer.Option(help="--port sim: the seed that lays out the cube and the bowl.")
]
BackendOpt = Annotated[
    Backend | None, typer.Option(help="Runner; default: from the artifact's type.")
]


FpsOpt = Annotated[float | None, typer.Option(help="Control rate; default: the spec's.")]
DurationOpt = Annotated[float | None, typer.Option(help="Seconds to run; default: until Ctrl-C.")]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Run everything but the servo writes; torque stays off (the arm is limp).",
    ),
]
SkipSelfCheckOpt = Annotated[
    bool,
    typer.Option(
        "--skip-self-check",
        help="Start even though the artifact has no check file (exported before act-tool "
        "wrote them, or the file was lost): its actions on this machine are then NOT checked "
        "against LeRobot's before the arm moves. A check file that is present is always run; "
        "a failing check, a check file of another artifact or a changed artifact is never "
        "overridden.",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Start even when the arm lies outside the training range."),
]
MaxRelativeTargetOpt = Annotated[
    float | None,
    typer.Option(help="Largest goal change from the present position per tick (units)."),
]
StrictServoErrorsOpt = Annotated[
    bool,
    typer.Option(
        "--strict-servo-errors",
        help="Stop (torque off) when a servo reports an error bit (overload, overheat, ...); "
        "by default they are counted and reported after the run, as LeRobot ignores them.",
    ),
]
NoRangeClampOpt = Annotated[
    bool,
    typer.Option(
        "--no-range-clamp",
        help="Do not clamp goals to the action's training range (+10 %); the arm's "
        "calibrated range still applies.",
    ),
]
LogOpt = Annotated[Path | None, typer.Option("--log", help="Write per-tick stage timings (JSONL).")]
NActionStepsOpt = Annotated[
    int | None, typer.Option(help="Actions executed per chunk; default: the spec's.")
]
TemporalEnsembleCoeffOpt = Annotated[
    float | None, typer.Option(help="Temporal ensembling (queries every tick).")
]
AsynchronousOpt = Annotated[
    bool,
    typer.Option("--async", help="Compute the next chunk in the background while acting."),
]
DeviceOpt = Annotated[Device, typer.Option(help="Where the runner computes.")]
CudaGraphOpt = Annotated[
    bool, typer.Option("--cuda-graph", help="TensorRT / PyTorch: replay a CUDA graph.")
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        help="CPU threads for inference; default: ONNX Runtime all cores, PyTorch all but one."
    ),
]
UnitsOpt = Annotated[
    Units,
    typer.Option(help="Joint units of a checkpoint folder (exported artifacts: their spec's)."),
]
RtPriorityOpt = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=99,
        help="SCHED_FIFO priority of the control thread where the system allows it "
        "(Linux; non-root users need an rtprio limit); 0: normal priority. Default: 40.",
    ),
]
RecordOpt = Annotated[
    Path | None,
    typer.Option(
        "--record",
        help="Save each episode (the frames the policy saw, the state read, the goal written) "
        "as a LeRobot dataset in this folder.",
    ),
]
TaskOpt = Annotated[
    str | None, typer.Option(help="--record: the task text stored with every frame.")
]
ResumeOpt = Annotated[
    bool, typer.Option("--resume", help="--record: append to the existing dataset in the folder.")
]
RecordCodecOpt = Annotated[
    str | None,
    typer.Option(
        "--record-codec",
        metavar="<h264|av1>",
        help="--record: video codec. h264 (default): libx264's fastest preset, a fraction of "
        "the CPU; av1: LeRobot's default SVT-AV1, smaller files, too slow for two 480x640 "
        "cameras on a small CPU. --resume keeps the dataset's codec.",
    ),
]


DisplayOpt = Annotated[
    bool,
    typer.Option(
        "--display",
        help="Stream cameras, joints, goals, the predicted chunk and stage latencies to a rerun "
        "viewer (the `display` extra).",
    ),
]
DisplaySaveOpt = Annotated[
    Path | None,
    typer.Option("--display-save", help="--display into this .rrd file instead of a viewer."),
]


OBSERVER_ARGS = ("record", "task", "resume", "record_codec", "display", "display_save")


def open_display(display: bool, save: Path | None):
    """The rerun live view for --display / --display-save (None without them)."""
    if not display and save is None:
        return None
    from act_tool.eval.display import RerunDisplay

    return RerunDisplay(save, log=typer.echo)


def open_recorder(record: Path | None, task: str | None, resume: bool, codec: str | None = None):
    """The dataset recorder for --record (None without it); usage errors before anything runs."""
    if record is None:
        if task is not None or resume or codec is not None:
            raise ActToolError("--task, --resume and --record-codec go with --record DIR")
        return None
    if task is None:
        raise ActToolError("--record needs --task TEXT (what the episodes do)")
    if resume and codec is not None:
        raise ActToolError("--resume keeps the dataset's own video codec: drop --record-codec")
    from act_tool.eval.lerobot_sink import DEFAULT_CODEC
    from act_tool.eval.recording import DatasetRecorder

    return DatasetRecorder(record, task, resume, log=typer.echo, codec=codec or DEFAULT_CODEC)


def run_options(
    engine: Path,
    port: str,
    cameras: str | None = None,
    robot_id: str | None = None,
    calibration: Path | None = None,
    backend: Backend | None = None,
    seed: int = 0,
    fps: float | None = None,
    duration: float | None = None,
    dry_run: bool = False,
    force: bool = False,
    max_relative_target: float | None = None,
    strict_servo_errors: bool = False,
    no_range_clamp: bool = False,
    log: Path | None = None,
    n_action_steps: int | None = None,
    temporal_ensemble_coeff: float | None = None,
    asynchronous: bool = False,
    device: Device = Device.AUTO,
    cuda_graph: bool = False,
    threads: int | None = None,
    units: Units = Units.DEGREES,
    rt_priority: int | None = None,
    skip_self_check: bool = False,
    max_missed_state: str = "100ms",
    on_stop: str = "torque-off",
    no_stall_protection: bool = False,
    **faults: Any,
):
    """`run`'s options (shared with `eval --port`) in their option groups: a RunOptions.
    `faults`: the virtual arm's fault options (act_tool.cli_faults.bus_faults's arguments)."""
    from act_tool.runtime.arm_kinds import ArmOptions
    from act_tool.runtime.loop_config import LoopConfig
    from act_tool.runtime.realtime import DEFAULT_PRIORITY
    from act_tool.runtime.runners import RunnerOptions
    from act_tool.runtime.session import RunOptions

    return RunOptions(
        engine=engine,
        arm=ArmOptions(
            port=port,
            robot_id=robot_id,
            calibration=calibration,
            max_relative_target=max_relative_target,
            strict_servo_errors=strict_servo_errors,
            seed=seed,
            faults=bus_faults(**faults),
            stall_protection=not no_stall_protection,
        ),
        cameras=cameras,
        backend=backend.value if backend else None,
        runner=RunnerOptions(
            device=device,
            threads=threads,
            cuda_graph=cuda_graph,
            units=units,
            fps=int(fps) if fps else None,
        ),  # fmt: skip
        loop=LoopConfig(
            fps=fps,
            n_action_steps=n_action_steps,
            temporal_ensemble_coeff=temporal_ensemble_coeff,
            asynchronous=asynchronous,
            duration_s=duration,
            dry_run=dry_run,
            force=force,
            clamp_to_training_range=not no_range_clamp,
            log_path=log,
            rt_priority=DEFAULT_PRIORITY if rt_priority is None else rt_priority,
            max_missed_state=max_missed_state,
            on_stop=on_stop,
        ),
        skip_self_check=skip_self_check,
    )


def run(
    engine: EngineOpt,
    port: PortOpt,
    cameras: CamerasOpt = None,
    robot_id: RobotIdOpt = None,
    calibration: CalibrationOpt = None,
    backend: BackendOpt = None,
    seed: SeedOpt = 0,
    fps: FpsOpt = None,
    duration: DurationOpt = None,
    dry_run: DryRunOpt = False,
    force: ForceOpt = False,
    max_relative_target: MaxRelativeTargetOpt = None,
    strict_servo_errors: StrictServoErrorsOpt = False,
    no_range_clamp: NoRangeClampOpt = False,
    log: LogOpt = None,
    n_action_steps: NActionStepsOpt = None,
    temporal_ensemble_coeff: TemporalEnsembleCoeffOpt = None,
    asynchronous: AsynchronousOpt = False,
    device: DeviceOpt = Device.AUTO,
    cuda_graph: CudaGraphOpt = False,
    threads: ThreadsOpt = None,
    units: UnitsOpt = Units.DEGREES,
    rt_priority: RtPriorityOpt = None,
    skip_self_check: SkipSelfCheckOpt = False,
    record: RecordOpt = None,
    task: TaskOpt = None,
    resume: ResumeOpt = False,
    record_codec: RecordCodecOpt = None,
    display: DisplayOpt = False,
    display_save: DisplaySaveOpt = None,
    max_missed_state: MaxMissedStateOpt = "100ms",
    on_stop: OnStopOpt = "torque-off",
    no_stall_protection: NoStallProtectionOpt = False,
    lost_replies: LostRepliesOpt = 0.0,
    corrupt_replies: CorruptRepliesOpt = 0.0,
    late_replies: LateRepliesOpt = 0.0,
    late_by: LateByOpt = 0.5,
    unplug_servo: UnplugServoOpt = None,
    unplug_after: UnplugAfterOpt = 0.0,
    squeeze_servo: SqueezeServoOpt = None,
    squeeze_at: SqueezeAtOpt = None,
    faults_from: FaultsFromOpt = "connected",
    fault_seed: FaultSeedOpt = 0,
) -> None:
    """Run a policy on the SO-101: cameras + joints -> policy -> servos, at a fixed rate.

    The virtual arm's fault options (--lost-replies, ...) rehearse faults with --port emulated
    or --port sim.
    """
    arguments = {k: v for k, v in locals().items() if k not in OBSERVER_ARGS}
    from act_tool.runtime.loop_config import LoopError
    from act_tool.runtime.session import run as run_session

    try:
        options = run_options(**arguments)
        recorder = open_recorder(record, task, resume, record_codec)
        viewer = open_display(display, display_save)
    except ActToolError as e:
        fail(e)
    try:
        observers = [o for o in (recorder, viewer) if o is not None]
        summary = run_session(options, log=typer.echo, observers=observers)
        if recorder is not None:
            recorder.save_episode()
    except LoopError as e:
        if e.summary is not None:
            typer.echo(e.summary.table())
        fail(e)
    except ActToolError as e:
        fail(e)
    except KeyboardInterrupt:
        typer.echo("interrupted before the loop started; torque is off")
        raise typer.Exit(130) from None
    finally:
        for observer in (recorder, viewer):
            if observer is not None:
                observer.close()
    typer.echo(summary.table())
    if log is not None:
        typer.echo(f"per-tick log: {log}")
