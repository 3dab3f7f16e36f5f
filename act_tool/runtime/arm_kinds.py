"""Arm kinds: what `--port` reaches (a real SO-101 on a serial port, the virtual one, ...).

An arm kind is one entry in ARM_KINDS: the robot type it is (a policy trained for another is
refused), the `--port` word that selects it (None: a serial port), a factory that makes the arm,
not yet connected, plus what its cameras default to, and the camera source kinds that exist only
with it (the simulated arm's rendered cameras), registered with it. A new kind is one module
with a factory and one `register_arm_kind` call, as LeRobot registers robot configs by type. The
control loop only sees the `Arm` protocol (act_tool.runtime.interfaces).

    kind = arm_kind_for(options.port)
    robot = open_robot(kind, ArmRequest(options, spec, dry_run=False), stack, log)
    with torque_guard(robot.arm): ...
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from act_tool.errors import ActToolError
from act_tool.hw.camera_sources import SourceKind, register_source_kind, unregister_source_kind
from act_tool.hw.emulator.faults import BusFaults
from act_tool.runtime.interfaces import EpisodeJudge, SessionArm
from act_tool.spec import EngineSpec

Log = Callable[[str], None]


@dataclass(frozen=True)
class ArmOptions:
    """How to reach the arm, and the limits the arm itself enforces."""

    port: str  # a serial port (/dev/ttyACM0, COM24) or a kind's word ("emulated")
    robot_id: str | None = None  # finds LeRobot's calibration file
    calibration: Path | None = None  # or the file itself
    max_relative_target: float | None = None  # largest goal step from the present position
    strict_servo_errors: bool = False  # servo error bits stop the run (default: counted)
    wire_time: bool = True  # virtual arms: emulate the 1 Mbps wire time
    seed: int = 0  # simulated arms: the cell's layout
    faults: BusFaults | None = None  # virtual and simulated arms: faults their bus injects
    stall_protection: bool = True  # back off a joint held away from its goal (hw/so101/stall.py)


@dataclass(frozen=True)
class ArmRequest:
    """What a factory is asked for: the options, the policy's spec, and whether torque may go on."""

    options: ArmOptions
    spec: EngineSpec
    dry_run: bool = False  # connect with torque off; the arm stays limp and refuses writes
    state_budget_s: float | None = None  # the tick's read gives up within this (s)
    persistent_error_reads: int = 3  # a servo fault held over this many reads stops the run


@dataclass
class Robot:
    """A factory's result: the arm (entering it connects), and what cameras default to."""

    arm: SessionArm
    default_source: str | None = None  # e.g. "synthetic"; None: --cameras must name them
    # shared with camera sources (act_tool.hw.camera_sources.open_reader's context)
    camera_context: Mapping[str, Any] = field(default_factory=dict)
    judge: EpisodeJudge | None = None  # an arm that judges its own episodes (the twin)


Factory = Callable[[ArmRequest, ExitStack, Log], Robot]


@dataclass(frozen=True)
class ArmKind:
    name: str  # "so101_follower", "so101_virtual"
    robot_type: str  # the policy's robot type this arm is (act_tool.robot_types)
    port: str | None  # the --port word that selects it; None: any serial port
    factory: Factory | str  # or "module:function", imported when chosen
    summary: str = ""  # for help texts
    needs_calibration: bool = True  # --robot-id or --calibration required
    camera_kinds: tuple[SourceKind, ...] = ()  # camera sources this arm brings

    def check(self, options: ArmOptions) -> None:
        """Usage errors, before anything loads."""
        if options.faults is not None and self.port is None:
            raise ActToolError(
                "the fault options (--lost-replies, --unplug-servo, ...) rehearse faults on a "
                f"virtual arm: use --port {' or --port '.join(port_words())}, or act-tool emulate"
            )
        if self.needs_calibration and options.robot_id is None and options.calibration is None:
            raise ActToolError(
                "give the arm's --robot-id (finds LeRobot's calibration file) or --calibration FILE"
            )


BUILT_IN: tuple[ArmKind, ...] = (
    ArmKind(
        "so101_follower",
        "so101_follower",
        None,
        "act_tool.runtime.so101_arms:open_so101",
        "an SO-101 follower on a serial port",
    ),
    ArmKind(
        "so101_virtual",
        "so101_follower",
        "emulated",
        "act_tool.runtime.so101_arms:open_virtual_so101",
        "the virtual SO-101 (servo emulator on a pseudo-terminal), synthetic cameras",
        needs_calibration=False,
    ),
    ArmKind(
        "so101_sim",
        "so101_follower",
        "sim",
        "act_tool.sim.arm:open_sim_so101",
        "the SO-101 digital twin (MuJoCo physics behind the servo bus), rendered cameras",
        needs_calibration=False,
        camera_kinds=(
            SourceKind(
                "sim",
                "sim[:front|handeye]",
                lambda t: t == "sim" or t.startswith("sim:"),
                "act_tool.sim.cameras:parse_sim_source",
                "act_tool.sim.cameras:open_sim_camera",
            ),
        ),
    ),
)

ARM_KINDS: dict[str, ArmKind] = {}


def register_arm_kind(kind: ArmKind) -> None:
    """Add (or replace) an arm kind, and the camera source kinds it brings."""
    taken = [k.name for k in ARM_KINDS.values() if k.port == kind.port and k.name != kind.name]
    if kind.port is not None and taken:
        raise ActToolError(f"--port {kind.port} already selects the arm kind {taken[0]!r}")
    ARM_KINDS[kind.name] = kind
    for source in kind.camera_kinds:
        register_source_kind(source)


def unregister_arm_kind(name: str) -> None:
    kind = ARM_KINDS.pop(name, None)
    for source in kind.camera_kinds if kind is not None else ():
        unregister_source_kind(source.name)


for _kind in BUILT_IN:
    register_arm_kind(_kind)


def port_words() -> list[str]:
    """The --port words of the registered kinds ("emulated", ...)."""
    return [k.port for k in ARM_KINDS.values() if k.port is not None]


def arm_kind_for(port: str) -> ArmKind:
    """The kind a --port selects: its word, else the serial-port kind."""
    for kind in ARM_KINDS.values():
        if kind.port == port:
            return kind
    serial = [k for k in ARM_KINDS.values() if k.port is None]
    if not serial:
        raise ActToolError(f"no arm kind takes a serial port; use one of {port_words()}")
    return serial[0]


def check_robot_type(kind: ArmKind, spec: EngineSpec, log: Log) -> None:
    """Refuse a policy trained for another robot type than the arm's."""
    if not spec.robot_type:
        log(
            f"note: the spec does not record the robot type the policy was trained for "
            f"(exported by an older act-tool); assuming {kind.robot_type}"
        )
        return
    if spec.robot_type != kind.robot_type:
        raise ActToolError(
            f"the policy was trained for a {spec.robot_type!r} arm, and {kind.name} is a "
            f"{kind.robot_type!r}: its goals would drive the wrong links. Use a policy trained "
            f"on this arm; if the spec is wrong, export again with --robot-type {kind.robot_type}."
        )


def open_robot(kind: ArmKind, request: ArmRequest, stack: ExitStack, log: Log) -> Robot:
    """The kind's arm (not connected) and camera defaults; whatever the factory starts (an
    emulator, a simulator) is closed with `stack`."""
    factory = kind.factory
    if isinstance(factory, str):
        module, _, function = factory.partition(":")
        factory = getattr(importlib.import_module(module), function)
    return factory(request, stack, log)
