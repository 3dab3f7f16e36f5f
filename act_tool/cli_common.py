"""What the CLI's verb modules share: the error exit."""

from __future__ import annotations

import typer

from act_tool.errors import ActToolError


def fail(error: ActToolError) -> None:
    """Print an act-tool error without a traceback and exit with status 1."""
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
