"""Servo error bits seen in the per-tick position read: the last read's, and counts per joint.

A real arm reports them in normal use (a gripper squeezing an object reports overload), so the
arm records them and the run goes on, as in LeRobot, whose sync_read ignores the error byte.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from act_tool.hw.feetech.protocol import error_names

log = logging.getLogger(__name__)


class ServoErrorLog:
    """Error bytes per joint: `record()` them after each read that has any (or had any)."""

    def __init__(self, joint_names: Sequence[str], servo_ids: Sequence[int]) -> None:
        self.joint_names = tuple(joint_names)
        self.servo_ids = tuple(servo_ids)
        self.last = [0] * len(self.joint_names)  # error byte per joint at the last read
        self.any_last = False
        self._counts = np.zeros((len(self.joint_names), 8), dtype=np.int64)

    def clear(self) -> None:
        self.last = [0] * len(self.joint_names)
        self.any_last = False
        self._counts[:] = 0

    def record(self, bits: Sequence[int]) -> None:
        """Keep one read's error bytes (one per joint) and count each bit set."""
        self.any_last = False
        for j, joint_bits in enumerate(bits):
            self.last[j] = joint_bits
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
            "servo errors (recorded; --strict-servo-errors stops on them): "
            + ", ".join(parts)
            + ". Check the load, the supply voltage and the servos' temperature."
        )
