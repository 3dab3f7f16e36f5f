"""The act-tool command line. Parses options, calls library functions, prints results.

Heavy libraries (torch, lerobot, onnx, tensorrt) are imported inside commands so that
`act-tool --help` answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand

from act_tool.cli_backbone import backbone_command
from act_tool.cli_common import fail, need_lerobot, show_version
from act_tool.cli_dataset_sim import dataset_sim
from act_tool.cli_doctor import doctor, find_cameras, find_port
from act_tool.cli_emulate import emulate
from act_tool.cli_engine import engine
from act_tool.cli_eval import eval_command
from act_tool.cli_run import SkipSelfCheckOpt, run
from act_tool.compat import StrEnum
from act_tool.errors import ActToolError
from act_tool.robot_types import ROBOT_TYPES, Units
from act_tool.spec import Builder, ChannelOrder
from act_tool.train.command import TrainDevice

app = typer.Typer(
    name="act-tool",
    help="Train, export and run LeRobot ACT policies on the SO-101 arm.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=show_version,
            is_eager=True,
            help="Show act-tool's version and the libraries that decide its numbers, then exit.",
        ),
    ] = False,
) -> None:
    """Train, export and run LeRobot ACT policies on the SO-101 arm."""


# --- train -------------------------------------------------------------------------------------


class LeRobotPassthrough(TyperCommand):
    """Only the arguments after `--` go to LeRobot (as ctx.args); an unknown option or a stray
    argument before `--` is a usage error, so a typo never reaches LeRobot unnoticed. (Click's
    parser merges arguments from both sides of `--`, so the split is made before it parses.)"""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        passthrough: list[str] = []
        if "--" in args:
            i = args.index("--")
            args, passthrough = args[:i], args[i + 1 :]
        try:
            super().parse_args(ctx, args)
        except typer.TyperException as e:  # typer's public base of click's usage errors
            if e.message.startswith("No such option"):
                e.message += (
                    " (LeRobot's own options go after --, e.g. "
                    "`act-tool train --dataset DIR -- --policy.dim_model=256`)"
                )
            raise
        ctx.args = passthrough
        return ctx.args


@app.command(cls=LeRobotPassthrough)
def train(
    ctx: typer.Context,
    dataset: Annotated[
        str | None,
        typer.Option(help="A local LeRobot dataset directory or a hub repo id (owner/name)."),
    ] = None,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The run directory (must not exist yet).")
    ] = Path("outputs/train/act"),
    steps: Annotated[
        int | None, typer.Option(help="Training steps (default 100000; on resume: the run's).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Batch size per GPU (default 8; on resume: the run's).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the run in --output from its last checkpoint."),
    ] = False,
    device: Annotated[TrainDevice, typer.Option(help="Where to train.")] = TrainDevice.AUTO,
    gpus: Annotated[int, typer.Option(help="Train on N GPUs (accelerate launch --multi_gpu).")] = 1,
    wandb: Annotated[bool, typer.Option("--wandb", help="Log to Weights & Biases.")] = False,
    pretrained_backbone: Annotated[
        bool,
        typer.Option(
            "--pretrained-backbone/--no-pretrained-backbone",
            help="Start the ResNet18 from ImageNet weights (from the local torchvision cache).",
        ),
    ] = True,
    backbone_weights: Annotated[
        Path | None,
        typer.Option(help="torchvision's resnet18-f37072fd.pth, when it is not in the cache."),
    ] = None,
    backbone: Annotated[
        Path | None,
        typer.Option(help="Start the ResNet18 from a twin backbone (act-tool backbone's file)."),
    ] = None,
    freeze_backbone: Annotated[
        bool,
        typer.Option(
            "--freeze-backbone",
            help="Keep the backbone fixed and compute each frame's features once: many times "
            "faster on a CPU.",
        ),
    ] = False,
    bf16: Annotated[
        bool,
        typer.Option(
            "--bf16", help="BF16 autocast in the frozen-backbone loop (the checkpoint stays FP32)."
        ),
    ] = False,
) -> None:
    """Train an ACT policy with LeRobot, with the reference run's defaults.

    Any other LeRobot training option goes after --:
    act-tool train --dataset DIR -o runs/a -- --policy.dim_model=256

    Fine-tune a pretrained ACT policy:
    act-tool train --dataset DIR -o runs/b -- --policy.path=CHECKPOINT_OR_REPO

    Train fast on a CPU, from a backbone taught in the twin (act-tool backbone):
    act-tool train --dataset DIR -o runs/c --backbone backbone.safetensors --freeze-backbone
    """
    need_lerobot("act-tool train")
    from act_tool.train.runner import TrainRequest, run_training

    try:
        result = run_training(
            TrainRequest(
                output=output,
                dataset=dataset,
                steps=steps,
                batch_size=batch_size,
                resume=resume,
                device=device.value,
                gpus=gpus,
                wandb=wandb,
                pretrained_backbone=pretrained_backbone,
                backbone_weights=backbone_weights,
                backbone=backbone,
                freeze_backbone=freeze_backbone,
                bf16=bf16,
                extra=tuple(ctx.args),
            ),
            log=typer.echo,
        )
    except ActToolError as e:
        fail(e)
    typer.echo(f"trained {result.step} steps in {result.seconds:.0f} s: {result.checkpoint}")
    if not result.frozen:
        typer.echo(f"LeRobot's log: {result.log_path}")
    typer.echo(f"export it with:\n  {result.export_command}")


# --- dataset -----------------------------------------------------------------------------------

dataset_app = typer.Typer(help="Make LeRobot datasets.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
dataset_app.command("sim")(dataset_sim)
app.command("backbone")(backbone_command)


@dataset_app.command("synth")
def dataset_synth(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Dataset directory (must not exist yet).")
    ] = Path("data/synth"),
    episodes: Annotated[int, typer.Option(help="Number of episodes.")] = 6,
    frames: Annotated[int, typer.Option(help="Frames per episode.")] = 120,
    height: Annotated[int, typer.Option(help="Image height.")] = 96,
    width: Annotated[int, typer.Option(help="Image width.")] = 128,
    fps: Annotated[int, typer.Option(help="Frames per second.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (cube and bowl positions).")] = 0,
) -> None:
    """Write a small synthetic SO-101 pick-and-place dataset (LeRobot format, two cameras)."""
    need_lerobot("act-tool dataset synth")
    from act_tool.train.synthetic import SynthConfig, write_synthetic_dataset

    try:
        cfg = SynthConfig(
            output=output,
            episodes=episodes,
            frames=frames,
            height=height,
            width=width,
            fps=fps,
            seed=seed,
        )
        path = write_synthetic_dataset(cfg, log=typer.echo)
    except ActToolError as e:
        fail(e)
    typer.echo(f"dataset: {path}  ({episodes} episodes x {frames} frames, {height}x{width})")
    typer.echo(f"train on it with:\n  act-tool train --dataset {path} --output outputs/train/synth")


# --- export ------------------------------------------------------------------------------------


RobotType = StrEnum("RobotType", {name: name for name in ROBOT_TYPES})  # type: ignore[misc]


# export's INT8 options, named so that the command keeps one line a parameter
Int8Opt = Annotated[
    bool,
    typer.Option(
        "--int8",
        help="Also write act.int8.onnx (static INT8 for CPUs), calibrated on --dataset frames; "
        "no engine is built from it.",
    ),
]
CalibrationFramesOpt = Annotated[
    int,
    typer.Option(help="--int8: dataset frames to calibrate on (none of those parity checks)."),
]


@app.command()
def export(
    checkpoint: Annotated[
        Path,
        typer.Argument(
            help="LeRobot ACT checkpoint: a pretrained_model/ folder, a training output folder, "
            "or checkpoints/<step>."
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for the artifacts.")
    ] = Path("."),
    fp16: Annotated[
        bool, typer.Option("--fp16", help="Also write act.fp16.onnx and build the engine from it.")
    ] = False,
    int8: Int8Opt = False,
    builder: Annotated[
        Builder | None,
        typer.Option(
            help="Engine builder; default: whichever TensorRT is installed (enterprise first). "
            "'onnx' stops after the ONNX files."
        ),
    ] = None,
    dataset: Annotated[
        Path | None, typer.Option(help="Local LeRobot dataset: also check parity on its frames.")
    ] = None,
    observations: Annotated[
        int, typer.Option(help="Random observations for the parity check (>= 16).")
    ] = 16,
    calibration_frames: CalibrationFramesOpt = 32,
    units: Annotated[
        Units, typer.Option(help="Joint units the policy was trained in.")
    ] = Units.DEGREES,
    channel_order: Annotated[
        ChannelOrder,
        typer.Option(help="Channel order of the frames the runtime feeds (OpenCV: bgr)."),
    ] = ChannelOrder.BGR,
    fps: Annotated[
        int | None, typer.Option(help="Control rate; default: the dataset's, else 30.")
    ] = None,
    robot_type: Annotated[
        RobotType | None,
        typer.Option(
            help="The arm the policy was trained for; default: the dataset's robot_type "
            "(--dataset, or the one the checkpoint was trained on, where it is on this machine)."
        ),
    ] = None,
) -> None:
    """Export a checkpoint to ONNX (checked against LeRobot), FP16 and a TensorRT engine."""
    need_lerobot("act-tool export")
    from act_tool.export.pipeline import INT8_NEEDS_DATASET, ExportOptions, run_export

    if int8 and dataset is None:
        raise typer.BadParameter(INT8_NEEDS_DATASET, param_hint="'--int8'")
    try:
        result = run_export(
            ExportOptions(
                checkpoint=checkpoint,
                output=output,
                fp16=fp16,
                int8=int8,
                n_calibration=calibration_frames,
                builder=builder.value if builder else None,
                dataset=dataset,
                n_random=observations,
                units=units.value,
                channel_order=channel_order.value,
                fps=fps,
                robot_type=robot_type.value if robot_type else None,
            ),
            log=typer.echo,
        )
    except ActToolError as e:
        fail(e)
    typer.echo("artifacts:")
    for path in result.artifacts:
        typer.echo(f"  {path}  (+ {path.name}.json)")


app.command()(run)
app.command("eval")(eval_command)
app.command()(engine)


@app.command()
def bench(
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="LeRobot checkpoint: the LeRobot eager baseline and the PyTorch runner; "
            "alone, bench exports what it needs into a temporary folder."
        ),
    ] = None,
    onnx: Annotated[Path | None, typer.Option(help="An exported act.onnx to measure.")] = None,
    engine: Annotated[
        Path | None, typer.Option(help="An act.plan TensorRT engine to measure.")
    ] = None,
    repeats: Annotated[int, typer.Option(help="Timed inferences per backend.")] = 50,
    warmup: Annotated[int, typer.Option(help="Untimed inferences first.")] = 5,
    stages: Annotated[bool, typer.Option(help="Also time a control tick's stages.")] = True,
    port: Annotated[
        str,
        typer.Option(
            help="Arm for the control tick: 'emulated' or a serial port (a real arm: a dry run, "
            "no writes and torque off, unless --move)."
        ),
    ] = "emulated",
    move: Annotated[
        bool, typer.Option("--move", help="On a real --port, drive the arm with the policy.")
    ] = False,
    robot_id: Annotated[str | None, typer.Option(help="Calibration id of a real arm.")] = None,
    calibration: Annotated[
        Path | None, typer.Option(help="Calibration file of a real arm (instead of --robot-id).")
    ] = None,
    cameras: Annotated[
        str | None, typer.Option(help="NAME=SOURCE,... (default: synthetic).")
    ] = None,
    seconds: Annotated[float, typer.Option(help="Length of the control-tick run.")] = 5.0,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the raw figures here.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG: latency per backend, tick stages.")
    ] = None,
    skip_self_check: SkipSelfCheckOpt = False,
) -> None:
    """Measure latency, accuracy and memory of every backend here, and each control-tick stage."""
    from act_tool.bench.suite import BenchOptions, run_bench

    try:
        result = run_bench(
            BenchOptions(
                checkpoint=checkpoint,
                onnx=onnx,
                engine=engine,
                repeats=repeats,
                warmup=warmup,
                stages=stages,
                port=port,
                move=move,
                robot_id=robot_id,
                calibration=calibration,
                cameras=cameras,
                tick_seconds=seconds,
                json_path=json_path,
                plot_path=plot,
                skip_self_check=skip_self_check,
            ),
            log=typer.echo,
        )
    except ActToolError as e:
        fail(e)
    typer.echo("")
    typer.echo(result.text)
    for label, path in (("figures", json_path), ("plot", plot)):
        if path:
            typer.echo(f"{label}: {path}")


app.command()(emulate)
app.command()(doctor)
app.command("find-port")(find_port)
app.command("find-cameras")(find_cameras)
