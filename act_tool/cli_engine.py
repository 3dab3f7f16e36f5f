"""`act-tool engine`: build a TensorRT plan from an exported ONNX on the machine that runs it
(registered on the app in act_tool/cli.py). Needs no checkpoint and no LeRobot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from act_tool.cli_common import fail
from act_tool.errors import ActToolError
from act_tool.spec import Builder


def engine(
    onnx: Annotated[
        Path, typer.Argument(help="An exported act.fp16.onnx or act.onnx (spec JSON beside it).")
    ],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="The plan; default: act.plan beside it.")
    ] = None,
    builder: Annotated[
        Builder | None,
        typer.Option(help="tensorrt or tensorrt-rtx; default: whichever is installed."),
    ] = None,
) -> None:
    """Build a TensorRT engine from an exported ONNX here; it gets the ONNX's self-check file."""
    from act_tool.export.engine_from_onnx import build_plan_from_onnx

    try:
        build_plan_from_onnx(onnx, output, builder.value if builder else None, log=typer.echo)
    except ActToolError as e:
        fail(e)
