"""Arm kinds for tests: register one for the length of a `with` block, and a virtual SO-101
whose connect a test can watch or tamper with (inject faults, read registers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from act_tool.hw.emulator import VirtualArm
from act_tool.hw.so101 import SO101Arm
from act_tool.runtime.arm_kinds import (
    ARM_KINDS,
    ArmKind,
    ArmRequest,
    Log,
    Robot,
    register_arm_kind,
    unregister_arm_kind,
)
from act_tool.runtime.so101_arms import so101_arm, start_virtual_so101

OnConnect = Callable[[SO101Arm, VirtualArm], None]


@contextmanager
def registered(kind: ArmKind) -> Iterator[ArmKind]:
    """`kind` in the registry inside the block; whatever it replaced comes back afterwards."""
    before = ARM_KINDS.get(kind.name)
    register_arm_kind(kind)
    try:
        yield kind
    finally:
        unregister_arm_kind(kind.name)
        if before is not None:
            register_arm_kind(before)


def virtual_so101_spy(port_word: str, on_connect: OnConnect) -> ArmKind:
    """The virtual SO-101 as an arm kind selected by `--port port_word`; `on_connect(arm,
    virtual)` runs right after the arm connected."""

    def factory(request: ArmRequest, stack: ExitStack, log: Log) -> Robot:
        virtual, options = start_virtual_so101(request, stack, log)
        arm = so101_arm(options, request, virtual.port)
        connect = arm.connect

        def connect_and_watch() -> None:
            connect()
            on_connect(arm, virtual)

        arm.connect = connect_and_watch  # type: ignore[method-assign]
        return Robot(arm, default_source="synthetic")

    return ArmKind(
        f"so101_{port_word}", "so101_follower", port_word, factory, needs_calibration=False
    )
