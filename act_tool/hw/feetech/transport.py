"""Byte transports for the servo bus: the small interface the bus needs, and a serial port.

The serial transport opens the port with pyserial (settings, locking, helpful errors) and then,
on POSIX, talks to its file descriptor directly (poll + readv into the caller's buffer), so a
control tick allocates nothing that outlives it. Where there is no poll (Windows COM ports), it
reads through pyserial's own `readinto` with the remaining time as timeout.
"""

from __future__ import annotations

import errno
import os
import select
import time
from typing import Protocol

try:
    import termios  # POSIX only; the direct fd path is used only where it exists
except ImportError:  # Windows
    termios = None  # type: ignore[assignment]

from act_tool.hw.errors import PortBusyError, PortDisconnectedError, PortError, PortNotFoundError

DEFAULT_BAUDRATE = 1_000_000
_HANGUP = select.POLLHUP | select.POLLERR | select.POLLNVAL if hasattr(select, "poll") else 0
_GONE = (errno.EIO, errno.ENXIO, errno.ENODEV, errno.EBADF)  # errors of a vanished device


class Transport(Protocol):
    """What the bus needs from a byte pipe."""

    baudrate: int

    def open(self) -> None: ...

    def close(self) -> None: ...

    def write(self, data: bytes | bytearray) -> None: ...

    def read_into(self, buffer: memoryview, deadline: float) -> int:
        """Read what has arrived (at most len(buffer) bytes), waiting until `deadline`
        (time.perf_counter()) for the first byte; 0 means the deadline passed. Raises
        PortDisconnectedError when the device is gone (USB adapter unplugged)."""
        ...

    def discard_input(self) -> None: ...


def available_ports() -> list[str]:
    """Serial ports this machine has, for error messages."""
    try:
        from serial.tools import list_ports

        return sorted(p.device for p in list_ports.comports())
    except Exception:  # listing ports is a courtesy in an error message; never fail on it
        return []


class SerialTransport:
    """A serial port (a USB adapter, or the virtual arm's pseudo-terminal)."""

    def __init__(
        self,
        port: str,
        baudrate: int = DEFAULT_BAUDRATE,
        exclusive: bool = True,
        use_fd: bool | None = None,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.exclusive = exclusive
        # Direct fd I/O needs POSIX poll; None picks it where it exists.
        self.use_fd = hasattr(select, "poll") and os.name == "posix" if use_fd is None else use_fd
        self._serial = None
        self._fd = -1
        self._poll: select.poll | None = None

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        import serial

        if self._serial is not None:
            return
        if not os.path.exists(self.port) and not self.port.upper().startswith("COM"):
            raise PortNotFoundError(self.port, "no such device", available_ports())
        try:
            ser = serial.Serial(
                self.port, self.baudrate, timeout=0, write_timeout=0.1, exclusive=self.exclusive
            )
        except serial.SerialException as e:
            code = getattr(e, "errno", None)
            text = str(e)
            if code == errno.ENOENT:
                raise PortNotFoundError(self.port, text, available_ports()) from e
            if code in (errno.EBUSY, errno.EACCES, errno.EAGAIN) or "lock" in text.lower():
                raise PortBusyError(
                    self.port,
                    f"{text} (another program holds it, or permission denied)",
                    available_ports(),
                ) from e
            raise PortError(self.port, text, available_ports()) from e
        self._serial = ser
        ser.reset_input_buffer()
        if not self.use_fd:
            return
        self._fd = ser.fileno()
        os.set_blocking(self._fd, False)
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)

    def close(self) -> None:
        if self._serial is not None:
            ser, self._serial, self._poll, self._fd = self._serial, None, None, -1
            ser.close()

    def write(self, data: bytes | bytearray) -> None:
        if not self.use_fd:
            try:
                self._serial.write(data)
            except Exception as e:  # serial.SerialException / SerialTimeoutException
                raise PortError(self.port, f"write failed: {e}") from e
            return
        sent = 0
        while sent < len(data):
            try:  # the whole packet in one call, as a rule: no slice is made for it
                sent += os.write(self._fd, memoryview(data)[sent:] if sent else data)
            except BlockingIOError:
                self._poll_out()
            except OSError as e:
                if e.errno in _GONE:
                    raise PortDisconnectedError(
                        self.port, f"write failed: {e}", available_ports()
                    ) from e
                raise PortError(self.port, f"write failed: {e}") from e

    def _poll_out(self) -> None:
        p = select.poll()
        p.register(self._fd, select.POLLOUT)
        p.poll(10)

    def read_into(self, buffer: memoryview, deadline: float) -> int:
        if not self.use_fd:
            return self._read_portable(buffer, deadline)
        assert self._poll is not None, "transport is not open"
        while True:
            remaining_ms = (deadline - time.perf_counter()) * 1000.0
            events = self._poll.poll(remaining_ms if remaining_ms > 0.0 else 0)
            if events:
                try:
                    n = os.readv(self._fd, (buffer,))
                except BlockingIOError:
                    n = 0
                except OSError as e:
                    if e.errno in _GONE:
                        raise PortDisconnectedError(
                            self.port, f"read failed: {e}", available_ports()
                        ) from e
                    raise PortError(self.port, f"read failed: {e}") from e
                if n > 0:
                    return n
                if events[0][1] & _HANGUP:  # hang-up and nothing left to read: it is gone
                    raise PortDisconnectedError(self.port, "the device hung up", available_ports())
            if remaining_ms <= 0.0:
                return 0

    def _read_portable(self, buffer: memoryview, deadline: float) -> int:
        """pyserial path: wait for the first byte until the deadline, then take what is there."""
        ser = self._serial
        try:
            waiting = ser.in_waiting
            if waiting == 0:
                ser.timeout = max(deadline - time.perf_counter(), 0.0)
                n = ser.readinto(buffer[:1])
                if not n:
                    return 0
                waiting = ser.in_waiting
                if waiting:
                    ser.timeout = 0
                    n += ser.readinto(buffer[1 : 1 + min(waiting, len(buffer) - 1)]) or 0
                return n
            ser.timeout = 0
            return ser.readinto(buffer[: min(waiting, len(buffer))]) or 0
        except Exception as e:  # serial.SerialException
            if getattr(e, "errno", None) in _GONE or "disconnected" in str(e):
                raise PortDisconnectedError(
                    self.port, f"read failed: {e}", available_ports()
                ) from e
            raise PortError(self.port, f"read failed: {e}") from e

    def discard_input(self) -> None:
        if self._serial is None:
            return
        try:
            if self._fd >= 0 and termios is not None:  # pyserial's reset_input_buffer, direct
                termios.tcflush(self._fd, termios.TCIFLUSH)
            else:
                self._serial.reset_input_buffer()
        except Exception as e:  # termios.error (no errno attribute) or serial.SerialException
            code = e.args[0] if e.args and isinstance(e.args[0], int) else None
            if code in _GONE or getattr(e, "errno", None) in _GONE:
                raise PortDisconnectedError(
                    self.port, f"flushing input failed: {e}", available_ports()
                ) from e
            raise PortError(self.port, f"flushing input failed: {e}") from e

    def __repr__(self) -> str:
        return f"SerialTransport({self.port!r}, {self.baudrate})"
