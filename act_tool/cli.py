"""The act-tool command line. Parses options, calls library functions, prints results.

Heavy libraries (torch, lerobot, onnx, tensorrt) are imported inside commands so that
`act-tool --help` answers at once.
"""

from __future__ import annotations

import sys
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


def fail(error: ActToolError) -> None:
    """Print an act-tool error without a traceback and exit with status 1."""
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


# --- emulate (hardware layer) -------------------------------------------------------------------
