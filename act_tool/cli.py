"""The act-tool command line. Parses options, calls library functions, prints results.

Heavy libraries (torch, lerobot, onnx, tensorrt) are imported inside commands so that
`act-tool --help` answers at once.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from act_tool.errors import ActToolError

app = typer.Typer(
    name="act-tool",
    help="Train, export and run LeRobot ACT policies on the SO-101 arm.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """Train, export and run LeRobot ACT policies on the SO-101 arm."""


def fail(error: ActToolError) -> None:
    """Print an act-tool error without a traceback and exit with status 1."""
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


# --- export ------------------------------------------------------------------------------------


class Builder(StrEnum):
    tensorrt = "tensorrt"
    tensorrt_rtx = "tensorrt-rtx"
    onnx = "onnx"


class Units(StrEnum):
    degrees = "degrees"
    range = "range"


class ChannelOrder(StrEnum):
    bgr = "bgr"
    rgb = "rgb"


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
    units: Annotated[
        Units, typer.Option(help="Joint units the policy was trained in.")
    ] = Units.degrees,
    channel_order: Annotated[
        ChannelOrder,
        typer.Option(help="Channel order of the frames the runtime feeds (OpenCV: bgr)."),
    ] = ChannelOrder.bgr,
    fps: Annotated[
        int | None, typer.Option(help="Control rate; default: the dataset's, else 30.")
    ] = None,
) -> None:
    """Export a checkpoint to ONNX (checked against LeRobot), FP16 and a TensorRT engine."""
    from act_tool.export.pipeline import ExportOptions, run_export

    try:
        result = run_export(
            ExportOptions(
                checkpoint=checkpoint,
                output=output,
                fp16=fp16,
                builder=builder.value if builder else None,
                dataset=dataset,
                n_random=observations,
                units=units.value,
                channel_order=channel_order.value,
                fps=fps,
            ),
            log=typer.echo,
        )
    except ActToolError as e:
        fail(e)
    typer.echo("artifacts:")
    for path in result.artifacts:
        typer.echo(f"  {path}  (+ {path.name}.json)")


# --- emulate (hardware layer) -------------------------------------------------------------------
