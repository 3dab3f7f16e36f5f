"""`act-tool dataset sim`: the scripted expert in the MuJoCo twin, recorded as a LeRobot dataset
(registered on the dataset sub-app in act_tool/cli.py). Heavy imports happen inside the command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from act_tool.cli_common import fail
from act_tool.errors import ActToolError, require


def dataset_sim(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Dataset directory (must not exist yet).")
    ] = Path("data/sim"),
    episodes: Annotated[int, typer.Option(help="Number of successful episodes to record.")] = 50,
    seed: Annotated[
        int, typer.Option(help="Seed of the first episode's layout; episode i uses seed + i.")
    ] = 0,
    height: Annotated[int, typer.Option(help="Image height.")] = 96,
    width: Annotated[int, typer.Option(help="Image width.")] = 128,
    fps: Annotated[int, typer.Option(help="Control ticks (frames) per second.")] = 30,
    noise: Annotated[
        float,
        typer.Option(
            help="Drive the arm off the expert's path by smooth offsets of this std (degrees) "
            "while recording the expert's actions: demonstrations of recovering."
        ),
    ] = 0.0,
) -> None:
    """Record scripted pick-and-place demonstrations in the SO-101 digital twin.

    LeRobot format: front and handeye cameras, joints in degrees, gripper 0..100.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    try:
        from act_tool.sim.render import import_mujoco

        import_mujoco()
        require("lerobot", "export", "Writing a LeRobot dataset")
        from act_tool.sim.dataset import SimDatasetConfig, write_sim_dataset
        from act_tool.sim.expert import ScriptedExpert

        cfg = SimDatasetConfig(output, episodes, seed, height, width, fps, noise=noise)
        frames = ScriptedExpert.episode_ticks(fps) * episodes
        columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task("frames", total=frames)
            result = write_sim_dataset(
                cfg, on_frame=lambda: bar.advance(task), log=bar.console.print
            )
    except ActToolError as e:
        fail(e)
    typer.echo(
        f"dataset: {result.path}  ({len(result.seeds)} episodes, {result.frames} frames, "
        f"{height}x{width}; seeds {result.seeds[0]}..{result.seeds[-1]}"
        + (f", {len(result.skipped)} failed and skipped)" if result.skipped else ")")
    )
    typer.echo(
        f"train on it with:\n  act-tool train --dataset {result.path} --output outputs/train/sim"
    )
