"""`act-tool emulate`: a virtual SO-101 on a pseudo-terminal, its servos' own motion model or the
digital twin's physics (--sim), until Ctrl-C (registered on the app in act_tool/cli.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from act_tool.cli_common import fail
from act_tool.cli_faults import (
    CorruptRepliesOpt,
    FaultSeedOpt,
    FaultsFromOpt,
    LateByOpt,
    LateRepliesOpt,
    LostRepliesOpt,
    SqueezeAtOpt,
    SqueezeServoOpt,
    UnplugAfterOpt,
    UnplugServoOpt,
    bus_faults,
)
from act_tool.errors import ActToolError
from act_tool.robot_types import Units

if TYPE_CHECKING:
    from act_tool.hw.emulator import BusFaults


def emulate(
    robot_id: Annotated[
        str | None,
        typer.Option(help="Write a matching LeRobot calibration file for this robot id."),
    ] = None,
    calibration_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder for <robot-id>.json, like LeRobot's --robot.calibration_dir "
            "(default: $HF_LEROBOT_HOME/calibration/robots/so_follower)."
        ),
    ] = None,
    units: Annotated[
        Units, typer.Option(help="Units of the positions printed by --watch.")
    ] = Units.DEGREES,
    wire_time: Annotated[
        bool, typer.Option(help="Emulate 1 Mbps wire time and the servos' return delay.")
    ] = True,
    factory: Annotated[
        bool, typer.Option(help="Servos with factory offsets and limits (not calibrated).")
    ] = False,
    sim: Annotated[
        bool,
        typer.Option("--sim", help="The servos' shafts are the digital twin's joints (MuJoCo)."),
    ] = False,
    seed: Annotated[int, typer.Option(help="--sim: the seed that lays out the cell.")] = 0,
    watch: Annotated[bool, typer.Option(help="Print the joint positions every second.")] = False,
    lost_replies: LostRepliesOpt = 0.0,
    corrupt_replies: CorruptRepliesOpt = 0.0,
    late_replies: LateRepliesOpt = 0.0,
    late_by: LateByOpt = 0.5,
    unplug_servo: UnplugServoOpt = None,
    unplug_after: UnplugAfterOpt = 0.0,
    squeeze_servo: SqueezeServoOpt = None,
    squeeze_at: SqueezeAtOpt = None,
    faults_from: FaultsFromOpt = "start",
    fault_seed: FaultSeedOpt = 0,
) -> None:
    """Run a virtual SO-101 (six STS3215 servos) on a pseudo-terminal until Ctrl-C."""
    from act_tool.hw.emulator import DEFAULT_CALIBRATION
    from act_tool.hw.so101.calibration import candidate_paths, save_calibration

    faults = None
    try:
        faults = bus_faults(
            fault_seed,
            lost_replies,
            corrupt_replies,
            late_replies,
            late_by,
            unplug_servo,
            unplug_after,
            squeeze_servo,
            squeeze_at,
            faults_from,
        )
    except ActToolError as e:
        fail(e)
    if faults is not None and sim:
        fail(
            ActToolError(
                "the fault options (--lost-replies, --unplug-servo, ...) apply to the servo "
                "emulator, not to emulate --sim: drop --sim to run a faulty virtual arm, or "
                "rehearse faults on the twin with act-tool run --port sim"
            )
        )

    if factory and (robot_id is not None or sim):
        fail(
            ActToolError(
                "--factory servos hold factory offsets and limits, which no calibration file "
                "describes: drop --robot-id and --sim (an uncalibrated arm, which act-tool and "
                "LeRobot refuse until lerobot-calibrate has run), or drop --factory for a "
                "calibrated virtual arm with a matching file"
            )
        )
    if robot_id is not None:
        path = (
            calibration_dir / f"{robot_id}.json"
            if calibration_dir is not None
            else candidate_paths(robot_id)[0]
        )
        save_calibration(DEFAULT_CALIBRATION, path)
        typer.echo(f"calibration file: {path}")

    def ready(port: str) -> None:
        typer.echo(port if port.startswith("  ") else f"virtual SO-101 on {port}  (Ctrl-C to stop)")
        if robot_id is not None and not port.startswith("  "):
            typer.echo(f"  act-tool / LeRobot: --robot.port={port} --robot.id={robot_id}")
        sys.stdout.flush()

    try:
        if sim:
            _emulate_twin(seed, wire_time, watch, units, ready)
        else:
            _emulate_servos(factory, wire_time, watch, units, ready, faults)
    except KeyboardInterrupt:
        typer.echo("stopped")
    except ActToolError as e:
        fail(e)


def _emulate_servos(
    factory: bool, wire_time: bool, watch: bool, units: Units, ready, faults: BusFaults | None
) -> None:
    import time

    from act_tool.hw.emulator import DEFAULT_CALIBRATION, EmulatorConfig, VirtualArm
    from act_tool.hw.emulator.watch import positions_line

    config = EmulatorConfig(
        calibration=None if factory else DEFAULT_CALIBRATION, wire_time=wire_time, faults=faults
    )
    with VirtualArm(config) as virtual:
        ready(virtual.port)
        while virtual.is_alive:
            time.sleep(1.0)
            if watch:
                typer.echo(positions_line(virtual, DEFAULT_CALIBRATION, units))


def _emulate_twin(seed: int, wire_time: bool, watch: bool, units: Units, ready) -> None:
    from act_tool.hw.emulator import DEFAULT_CALIBRATION
    from act_tool.sim.emulate import emulate_twin

    def show(twin) -> None:
        joints = twin.joint_positions()
        cube = twin.cube_pose().position
        typer.echo(
            "  ".join(f"{v:7.2f}" for v in joints)
            + f"  cube at ({cube[0]:.3f}, {cube[1]:.3f}, {cube[2]:.3f}) m"
        )

    if units is not Units.DEGREES and watch:
        raise ActToolError("--sim --watch prints degrees (the twin's units): drop --units")
    emulate_twin(DEFAULT_CALIBRATION, seed, wire_time, ready, show if watch else None)
