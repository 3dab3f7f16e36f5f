"""Servo error bits seen in the per-tick position read: the last read's, and counts per joint.

A real arm reports them in normal use (a gripper squeezing an object reports overload), so the
arm records them and the run goes on, as in LeRobot, whose sync_read ignores the error byte.
The faults that do not pass (voltage, overheat, angle sensor, over-current) stop the run once a
servo has reported one in more consecutive reads than a budget (`persistent`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from act_tool.hw.feetech.protocol import ErrorBit, error_names

log = logging.getLogger(__name__)

# Bits that stop a run when held: the servo cannot be trusted to hold a goal. Overload is left
# to the stall guard (a gripper squeezing an object reports it in normal use).
STOP_BITS = ErrorBit.VOLTAGE | ErrorBit.OVERHEAT | ErrorBit.ANGLE_SENSOR | ErrorBit.OVER_CURRENT


class ServoErrorLog:
    """Error bytes per joint: `record()` them after each read that has any (or had any)."""

    def __init__(self, joint_names: Sequence[str], servo_ids: Sequence[int]) -> None:
        self.joint_names = tuple(joint_names)
        self.servo_ids = tuple(servo_ids)
        self.last = [0] * len(self.joint_names)  # error byte per joint at the last read
        self.any_last = False
        self.held = [0] * len(self.joint_names)  # consecutive reads with a stop bit
        self._counts = np.zeros((len(self.joint_names), 8), dtype=np.int64)

    def clear(self) -> None:
        self.last = [0] * len(self.joint_names)
        self.any_last = False
        self.held = [0] * len(self.joint_names)
        self._counts[:] = 0

    def persistent(self, budget_reads: int) -> str | None:
        """What stops the run: a servo that reported a stop bit in more than `budget_reads`
        consecutive reads, named with its fault; None while none has."""
        for j, n in enumerate(self.held):
            if n > budget_reads:
                names = ", ".join(error_names(self.last[j] & STOP_BITS))
                return (
                    f"servo {self.servo_ids[j]} ({self.joint_names[j]}) reports {names} in "
                    f"{n} consecutive reads (more than {budget_reads}): let it cool down, check "
                    "the supply voltage and that the joint is not blocked"
                )
        return None

    def record(self, bits: Sequence[int]) -> None:
        """Keep one read's error bytes (one per joint) and count each bit set."""
        self.any_last = False
        for j, joint_bits in enumerate(bits):
            self.last[j] = joint_bits
            self.held[j] = self.held[j] + 1 if joint_bits & STOP_BITS else 0
            if not joint_bits:
                continue
            self.any_last = True
            for bit in range(8):
                if joint_bits >> bit & 1:
                    if not self._counts[j, bit]:
                        log.warning(
                            "servo %d (%s) reports %s; the run goes on (strict_servo_errors "
                            "stops on it)",
                            self.servo_ids[j],
                            self.joint_names[j],
                            error_names(1 << bit)[0],
                        )
                    self._counts[j, bit] += 1

    def latest(self) -> dict[str, tuple[str, ...]]:
        """The last read's errors by joint (joints without errors left out)."""
        return {self.joint_names[j]: tuple(error_names(b)) for j, b in enumerate(self.last) if b}

    def counts(self) -> dict[str, dict[str, int]]:
        """How many reads reported each error, by joint (non-zero only)."""
        counts: dict[str, dict[str, int]] = {}
        for j, bit in zip(*np.nonzero(self._counts), strict=True):
            name = error_names(1 << int(bit))[0]
            counts.setdefault(self.joint_names[j], {})[name] = int(self._counts[j, bit])
        return counts

    def report(self) -> str:
        """One line for a run's summary, or "" when no servo reported an error."""
        parts = [
            f"{joint} {name} in {n} read{'s' if n != 1 else ''}"
            for joint, by_name in self.counts().items()
            for name, n in by_name.items()
        ]
        if not parts:
            return ""
        return (
            "servo errors (recorded; held voltage, overheat, angle sensor or over-current "
            "errors stop the run, --strict-servo-errors stops on any): "
            + ", ".join(parts)
            + ". Check the load, the supply voltage and the servos' temperature."
        )
