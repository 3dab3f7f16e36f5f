"""`act-tool run`: the options of the camera-to-servo loop, parsed into RunOptions (registered on
the app in act_tool/cli.py). Heavy imports happen inside the command."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from act_tool.cli_common import Units, fail
from act_tool.errors import ActToolError


class Backend(StrEnum):
    tensorrt = "tensorrt"
    onnxruntime = "onnxruntime"
    torch = "torch"


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def run(
    engine: Annotated[
        Path,
        typer.Option(
            "--engine",
            help="act.plan (TensorRT), act.onnx (ONNX Runtime) or a LeRobot checkpoint folder "
            "(PyTorch); its spec JSON must lie beside it.",
        ),
    ],
    port: Annotated[
        str,
        typer.Option(help="The arm's serial port (/dev/ttyACM0, COM24), or 'emulated'."),
    ],
    cameras: Annotated[
        str | None,
        typer.Option(
            help="NAME=SOURCE,...: a device index, a device path, a video file or 'synthetic' "
            "(default with --port emulated: all synthetic)."
        ),
    ] = None,
    robot_id: Annotated[
        str | None, typer.Option(help="Finds LeRobot's calibration file for this robot id.")
    ] = None,
    calibration: Annotated[
        Path | None, typer.Option(help="LeRobot calibration file (instead of --robot-id).")
    ] = None,
    backend: Annotated[
        Backend | None, typer.Option(help="Runner; default: from the artifact's type.")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Control rate; default: the spec's.")] = None,
    duration: Annotated[
        float | None, typer.Option(help="Seconds to run; default: until Ctrl-C.")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Run everything but the servo writes; torque stays off (the arm is limp).",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Start even when the arm lies outside the training range."),
    ] = False,
    max_relative_target: Annotated[
        float | None,
        typer.Option(help="Largest goal change from the present position per tick (units)."),
    ] = None,
    strict_servo_errors: Annotated[
        bool,
        typer.Option(
            "--strict-servo-errors",
            help="Stop (torque off) when a servo reports an error bit (overload, overheat, ...); "
            "by default they are counted and reported after the run, as LeRobot ignores them.",
        ),
    ] = False,
    no_range_clamp: Annotated[
        bool,
        typer.Option(
            "--no-range-clamp",
            help="Do not clamp goals to the action's training range (+10 %); the arm's "
            "calibrated range still applies.",
        ),
    ] = False,
    log: Annotated[
        Path | None, typer.Option("--log", help="Write per-tick stage timings (JSONL).")
    ] = None,
    n_action_steps: Annotated[
        int | None, typer.Option(help="Actions executed per chunk; default: the spec's.")
    ] = None,
    temporal_ensemble_coeff: Annotated[
        float | None, typer.Option(help="Temporal ensembling (queries every tick).")
    ] = None,
    asynchronous: Annotated[
        bool,
        typer.Option("--async", help="Compute the next chunk in the background while acting."),
    ] = False,
    device: Annotated[Device, typer.Option(help="Where the runner computes.")] = Device.auto,
    cuda_graph: Annotated[
        bool, typer.Option("--cuda-graph", help="TensorRT / PyTorch: replay a CUDA graph.")
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            help="CPU threads for inference; default: ONNX Runtime all cores, PyTorch all but one."
        ),
    ] = None,
    units: Annotated[
        Units,
        typer.Option(help="Joint units of a checkpoint folder (exported artifacts: their spec's)."),
    ] = Units.degrees,
    rt_priority: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=99,
            help="SCHED_FIFO priority of the control thread where the system allows it "
            "(Linux; non-root users need an rtprio limit); 0: normal priority. Default: 40.",
        ),
    ] = None,
) -> None:
    """Run a policy on the SO-101: cameras + joints -> policy -> servos, at a fixed rate."""
    from act_tool.runtime.loop import LoopError
    from act_tool.runtime.realtime import DEFAULT_PRIORITY
    from act_tool.runtime.session import RunOptions
    from act_tool.runtime.session import run as run_session

    try:
        options = RunOptions(
            engine=engine,
            port=port,
            backend=backend.value if backend else None,
            cameras=cameras,
            robot_id=robot_id,
            calibration=calibration,
            fps=fps,
            duration_s=duration,
            dry_run=dry_run,
            force=force,
            range_clamp=not no_range_clamp,
            max_relative_target=max_relative_target,
            strict_servo_errors=strict_servo_errors,
            log_path=log,
            n_action_steps=n_action_steps,
            temporal_ensemble_coeff=temporal_ensemble_coeff,
            asynchronous=asynchronous,
            device=device.value,
            cuda_graph=cuda_graph,
            threads=threads,
            checkpoint_units=units.value,
            rt_priority=DEFAULT_PRIORITY if rt_priority is None else rt_priority,
        )
        summary = run_session(options, log=typer.echo)
    except LoopError as e:
        if e.summary is not None:
            typer.echo(e.summary.table())
        fail(e)
    except ActToolError as e:
        fail(e)
    except KeyboardInterrupt:
        typer.echo("interrupted before the loop started; torque is off")
        raise typer.Exit(130) from None
    typer.echo(summary.table())
    if log is not None:
        typer.echo(f"per-tick log: {log}")


# --- bench -------------------------------------------------------------------------------------
