"""Errors of the hardware layer: serial ports, the Feetech bus, servos, calibration, safety."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from act_tool.errors import ActToolError

LEROBOT_CALIBRATE_HINT = (
    "Calibrate the arm with LeRobot: lerobot-calibrate --robot.type=so101_follower "
    "--robot.port={port} --robot.id={robot_id}"
)


class HardwareError(ActToolError):
    """Base class of every hardware-layer error."""


class PortError(HardwareError):
    """A serial port that cannot be opened."""

    def __init__(self, port: str, reason: str, available: Sequence[str] = ()) -> None:
        listed = ", ".join(available) if available else "none found"
        super().__init__(
            f"cannot open serial port '{port}': {reason}. Serial ports on this machine: {listed}. "
            "Pass the arm's port (run `lerobot-find-port` to find it)."
        )
        self.port = port
        self.available = tuple(available)


class PortNotFoundError(PortError):
    """The port does not exist."""


class PortBusyError(PortError):
    """The port exists but another process holds it, or permission is denied."""


class PortDisconnectedError(PortError):
    """An open port whose device went away (USB adapter unplugged, power lost)."""

    def __init__(self, port: str, reason: str, available: Sequence[str] = ()) -> None:
        listed = ", ".join(available) if available else "none found"
        HardwareError.__init__(
            self,
            f"serial port '{port}': adapter disconnected ({reason}). Check the USB cable and "
            f"the adapter, then start again; it may come back under another name. Serial ports "
            f"on this machine: {listed}.",
        )
        self.port = port
        self.available = tuple(available)


class BusError(HardwareError):
    """A transaction on the servo bus that failed."""


class ReplyMissingError(BusError):
    """An answer that did not come in usable form: none before the deadline, or a corrupted
    one. Transient on a real bus (noise, a busy adapter); the control loop rides through a few
    (act_tool.runtime.missed_state). `missing_ids`: the servos whose answer is missing."""

    missing_ids: tuple[int, ...] = ()


class BusTimeoutError(ReplyMissingError):
    """One or more servos did not answer before the deadline."""

    def __init__(self, what: str, missing_ids: Iterable[int]) -> None:
        self.missing_ids = tuple(missing_ids)
        super().__init__(
            f"{what}: no answer from servo id(s) {list(self.missing_ids)}. Check the power supply, "
            "the cable between the servos, and that the ids and baud rate are right."
        )


class ChecksumError(ReplyMissingError):
    """A status packet arrived with a wrong checksum (noise on the bus, a loose cable)."""

    def __init__(self, what: str, servo_id: int) -> None:
        self.servo_id = servo_id
        self.missing_ids = (servo_id,)
        super().__init__(
            f"{what}: corrupted status packet from servo id {servo_id} (bad checksum). "
            "Check the cable and the power supply."
        )


class ServoError(BusError):
    """A servo answered with error bits set (voltage, angle sensor, overheat, ...)."""

    def __init__(self, what: str, servo_id: int, bits: int, names: Sequence[str]) -> None:
        self.servo_id = servo_id
        self.bits = bits
        self.names = tuple(names)
        super().__init__(
            f"{what}: servo id {servo_id} reports {', '.join(names)} (error byte 0x{bits:02X}). "
            "Let it cool down, check the supply voltage and that the joint is not blocked."
        )


class RegisterMismatchError(BusError):
    """A servo that keeps another value in a register than the one written to it."""

    def __init__(
        self, what: str, servo_id: int, register: str, written: int, found: int | None, tries: int
    ) -> None:
        self.servo_id = servo_id
        self.register = register
        self.written = written
        self.found = found
        super().__init__(
            f"{what}: the servo keeps {register} = {found} (read back after {tries} "
            f"write{'s' if tries != 1 else ''}). Make sure no other program drives the arm, "
            "power-cycle it and connect again; a servo that still refuses the value is faulty."
        )


class ServoModelError(BusError):
    """A servo that answers with an unexpected model number."""


class CalibrationError(HardwareError):
    """A calibration file that is missing, malformed, or does not match the arm."""


class SafetyError(HardwareError):
    """A command refused for safety (NaN goals, an arm not connected or not calibrated)."""
