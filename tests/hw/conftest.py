"""Fixtures for the hardware tests: a virtual arm process, calibration folders, fake transports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from act_tool.hw.emulator import EmulatorConfig, VirtualArm, write_calibration_file
from act_tool.hw.so101 import ArmConfig

# Generous: the emulator shares 2 cores with the tests; fault tests use delays far above this.
TEST_MARGIN_S = 0.25


class FakeTransport:
    """An in-memory transport: records what is written, serves queued replies."""

    def __init__(self, baudrate: int = 1_000_000) -> None:
        self.baudrate = baudrate
        self.written: list[bytes] = []
        self.replies: list[bytes] = []  # one entry served per request
        self._pending = bytearray()
        self.is_open = False

    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def write(self, data: bytes | bytearray) -> None:
        self.written.append(bytes(data))
        if self.replies:
            self._pending += self.replies.pop(0)

    def read_into(self, buffer: memoryview, deadline: float) -> int:
        if not self._pending:
            time.sleep(max(0.0, min(deadline - time.perf_counter(), 0.01)))
            return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        del self._pending[:n]
        return n

    def discard_input(self) -> None:
        pass


@pytest.fixture
def fake_transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def calibration_root(tmp_path: Path) -> Path:
    """A LeRobot calibration root (what $HF_LEROBOT_HOME/calibration would be)."""
    return tmp_path / "calibration"


@pytest.fixture
def virtual_arm() -> Iterator[VirtualArm]:
    """The virtual SO-101 without wire-time emulation (fast), stopped whatever happens."""
    with VirtualArm(EmulatorConfig(wire_time=False)) as virtual:
        yield virtual


@pytest.fixture
def arm_config(virtual_arm: VirtualArm, calibration_root: Path) -> ArmConfig:
    write_calibration_file("test_arm", root=calibration_root)
    return ArmConfig(
        port=virtual_arm.port,
        robot_id="test_arm",
        calibration_root=calibration_root,
        timeout_margin_s=TEST_MARGIN_S,
        read_retries=0,
    )
