"""Fixtures for the hardware tests: a virtual arm process, calibration folders, fake transports."""

from __future__ import annotations

import time

import pytest

from tests.conftest import TEST_MARGIN_S  # noqa: F401 (used by the hw tests)


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
