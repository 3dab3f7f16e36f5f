"""What the CLI's verb modules share: the error exit, the check for LeRobot."""

from __future__ import annotations

import typer

from act_tool.errors import ActToolError, MissingDependencyError
from act_tool.gpu import module_installed


def fail(error: ActToolError) -> None:
    """Print an act-tool error without a traceback and exit with status 1."""
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def need_lerobot(purpose: str) -> None:
    """Exit with the `export` extra's install line (or the Python it needs) when torch or LeRobot
    is missing, before a module that imports them is loaded."""
    for module in ("torch", "lerobot"):
        if not module_installed(module):
            fail(MissingDependencyError(module, "export", purpose))


def show_version(value: bool) -> None:
    """`act-tool --version`: the versions, then exit (an eager option's callback)."""
    if value:
        from act_tool.versions import version_text

        typer.echo(version_text())
        raise typer.Exit()
