"""Serial ports: list them, and find the arm's by unplugging it (what `lerobot-find-port` does).

    search = find_arm_port(list_serial_ports, input)   # asks the user to unplug the arm
    print(search.message)                              # "the arm's port is /dev/ttyACM0 ..."

The lister and the prompt are parameters, so a test (or another front end) supplies its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

UNPLUG_PROMPT = "Unplug the arm's USB cable (leave the power on), then press Enter."
SETTLE_S = 0.5  # time for the system to remove the device node after the cable is pulled


def list_serial_ports() -> list[str]:
    """The serial ports pyserial finds here (USB adapters, COM ports), sorted by name."""
    from serial.tools import list_ports

    return sorted({p.device for p in list_ports.comports()})


def list_usb_serial_ports() -> list[str]:
    """The USB serial adapters among them (those with a USB vendor id), as an SO-101's bus is."""
    from serial.tools import list_ports

    return sorted({p.device for p in list_ports.comports() if p.vid is not None})


@dataclass(frozen=True)
class PortSearch:
    """The outcome of an unplug search: the listings before and after, and what changed."""

    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(p for p in self.before if p not in self.after)

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(p for p in self.after if p not in self.before)

    @property
    def port(self) -> str | None:
        """The arm's port: the one port that disappeared; None when none or several did."""
        return self.removed[0] if len(self.removed) == 1 else None

    @property
    def message(self) -> str:
        """What to tell the user: the port found, or why none was."""
        if self.port is not None:
            return (
                f"the arm's port is {self.port}. Reconnect the USB cable, then pass it on: "
                f"act-tool run --port {self.port} ..."
            )
        if not self.before:
            return (
                "no serial ports found: plug the arm's USB adapter in (and power the arm), "
                "then run act-tool find-port again"
            )
        if self.removed:
            return (
                f"could not tell the arm's port: {len(self.removed)} ports disappeared "
                f"({', '.join(self.removed)}). Unplug only the arm's cable and run act-tool "
                "find-port again"
            )
        hint = (
            f" A port appeared instead ({', '.join(self.added)}): was the cable plugged in?"
            if self.added
            else ""
        )
        return (
            "could not tell the arm's port: no port disappeared. Unplug the arm's USB cable "
            f"(not only its power) before pressing Enter, and run act-tool find-port again.{hint}"
        )


def find_arm_port(
    list_ports: Callable[[], Sequence[str]],
    prompt: Callable[[str], object],
    *,
    log: Callable[[str], None] = print,
    settle_s: float | None = None,
) -> PortSearch:
    """List the ports, ask the user (through `prompt`) to unplug the arm, list them again.

    The arm's port is the one that disappeared (`PortSearch.port`); with no port to begin with
    the user is not asked at all. `settle_s` (default SETTLE_S) is waited after the prompt."""
    before = tuple(list_ports())
    log(f"serial ports now: {', '.join(before) if before else 'none'}")
    if not before:
        return PortSearch(before, before)
    prompt(UNPLUG_PROMPT)
    time.sleep(SETTLE_S if settle_s is None else settle_s)
    after = tuple(list_ports())
    log(f"serial ports after unplugging: {', '.join(after) if after else 'none'}")
    return PortSearch(before, after)
