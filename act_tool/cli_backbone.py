"""`act-tool backbone`: a ResNet18 taught in the twin, for training ACT without ImageNet weights
(registered in act_tool/cli.py). Heavy imports happen inside the command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from act_tool.cli_common import fail, need_lerobot
from act_tool.errors import ActToolError

FIRST_SEED = 100_000  # far from the datasets' (0..) and evaluations' (1000..) layout seeds


def backbone_command(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The backbone file to write (.safetensors).")
    ] = Path("backbone.safetensors"),
    layouts: Annotated[int, typer.Option(help="Layouts rendered for training.")] = 300,
    val_layouts: Annotated[
        int, typer.Option(help="Further layouts for measuring the result.")
    ] = 40,
    seed: Annotated[int, typer.Option(help="Seed of the first layout.")] = FIRST_SEED,
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 1500,
    batch_size: Annotated[int, typer.Option(help="Frames per camera per step.")] = 32,
    height: Annotated[int, typer.Option(help="Image height (the policy's cameras').")] = 96,
    width: Annotated[int, typer.Option(help="Image width.")] = 128,
    bf16: Annotated[
        bool, typer.Option("--bf16", help="BF16 autocast (CPUs with AVX-512 BF16 or AMX).")
    ] = False,
) -> None:
    """Teach a ResNet18 in the twin what the policy must see, for ACT without ImageNet weights.

    Renders both cameras over varied layouts and arm poses and regresses the cube, the bowl, the
    gripper and the joints; the result starts ACT training:
    act-tool train --dataset DIR -o runs/a --backbone backbone.safetensors --freeze-backbone
    """
    need_lerobot("act-tool backbone")
    try:
        from act_tool.sim.render import import_mujoco

        import_mujoco()
        from act_tool.train.twin_backbone import PretrainConfig, make_twin_backbone

        cfg = PretrainConfig(steps=steps, batch_size=batch_size, bf16=bf16)
        result = make_twin_backbone(
            output, range(seed, seed + layouts), range(seed + layouts, seed + layouts + val_layouts),
            height, width, cfg, log=typer.echo,
        )  # fmt: skip
    except ActToolError as e:
        fail(e)
    errors = ", ".join(f"{cam} {m * 100:.1f} cm" for cam, m in result.val_cube_error_m.items())
    typer.echo(
        f"backbone: {result.path} ({result.steps} steps in {result.seconds:.0f} s); the cube "
        f"located on unseen layouts within {errors} (median; {result.val_cube_error_baseline_m * 100:.1f} "
        "cm by guessing the mean)"
    )
    typer.echo(
        f"train with it:\n  act-tool train --dataset DIR -o runs/a --backbone {result.path} "
        "--freeze-backbone"
    )
