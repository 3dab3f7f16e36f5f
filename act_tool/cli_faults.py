"""Fault options shared by `act-tool emulate` and `act-tool run` / `eval` (rehearsing faults on a
virtual arm, `--port emulated` or `--port sim`), and the options that say how a run meets faults
(--max-missed-state, --on-stop, --no-stall-protection). Same names in every command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from act_tool.hw.emulator import BusFaults

LostRepliesOpt = Annotated[
    float,
    typer.Option(help="Virtual arm: fraction of the servos' replies lost (0.01: one in 100)."),
]
CorruptRepliesOpt = Annotated[
    float, typer.Option(help="Virtual arm: fraction of replies sent with a wrong checksum.")
]
LateRepliesOpt = Annotated[
    float,
    typer.Option(help="Virtual arm: fraction of replies sent late (after the client gave up)."),
]
LateByOpt = Annotated[float, typer.Option(help="Virtual arm: how late, in seconds.")]
UnplugServoOpt = Annotated[
    int | None,
    typer.Option(help="Virtual arm: this servo (1-6) stops answering, as if unplugged ..."),
]
UnplugAfterOpt = Annotated[
    float, typer.Option(help="... this many seconds after the faults start.")
]
SqueezeServoOpt = Annotated[
    int | None,
    typer.Option(
        help="Virtual arm: this servo (6: the gripper) closes on an object: pushing against "
        "it, it reports overload."
    ),
]
SqueezeAtOpt = Annotated[
    int | None,
    typer.Option(help="Where the object stops it (counts; default: a quarter of its range)."),
]
FaultsFromOpt = Annotated[
    str,
    typer.Option(
        help="When the faults start: 'start', or 'connected' (the client's first control tick "
        "with torque on)."
    ),
]
FaultSeedOpt = Annotated[int, typer.Option(help="Seed of the faults (same seed, same faults).")]

MaxMissedStateOpt = Annotated[
    str,
    typer.Option(
        help="How long the joints' state may be missing (answers lost or corrupt) before the "
        "run stops: ticks (3) or milliseconds (100ms). The ticks in between hold: no new goal, "
        "the servos keep their last one."
    ),
]
OnStopOpt = Annotated[
    str,
    typer.Option(
        metavar="<torque-off|park>",
        help="When the run ends: 'torque-off' at once (a raised arm falls), or 'park': move "
        "slowly back to the start pose, then torque off (on an intentional end or a failure "
        "that is not the servo bus's; a bus fault always turns torque off at once).",
    ),
]
NoStallProtectionOpt = Annotated[
    bool,
    typer.Option(
        "--no-stall-protection",
        help="Do not back off the goal of a joint held away from it (a gripper squeezing an "
        "object: 60 counts of error held 0.5 s with the shaft still, or an overload report).",
    ),
]


def bus_faults(
    fault_seed: int = 0,
    lost_replies: float = 0.0,
    corrupt_replies: float = 0.0,
    late_replies: float = 0.0,
    late_by: float = 0.5,
    unplug_servo: int | None = None,
    unplug_after: float = 0.0,
    squeeze_servo: int | None = None,
    squeeze_at: int | None = None,
    faults_from: str = "start",
) -> BusFaults | None:
    """The virtual arm's faults from the options; None when nothing goes wrong. Raises
    FaultConfigError (an ActToolError) on values out of range."""
    from act_tool.hw.emulator import BusFaults

    faults = BusFaults(
        seed=fault_seed,
        lost=lost_replies,
        corrupt=corrupt_replies,
        late=late_replies,
        late_s=late_by,
        silent_servo=unplug_servo,
        silent_after_s=unplug_after,
        squeeze_servo=squeeze_servo,
        squeeze_at=squeeze_at,
        start=faults_from,
    )
    return faults if faults.active else None
