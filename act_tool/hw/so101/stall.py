"""Stall protection: a servo held away from its goal (a gripper squeezing an object) has its goal
backed off toward where it is, so it stops pushing at full torque and cannot burn.

An STS3215 in position mode drives a torque that grows with the position error (P control) up
to its torque limit, so a large error held while the goal stays put is a high load, whatever
the load register says: the guard needs no bus traffic beyond the tick's position read and the
status error byte that comes with it. A servo is stalled when, on the same side of its goal,
- its position error stays above `error_counts` for `hold_s` while its shaft moves less than
  `still_counts` (a servo on its way to a far goal, or following a moving one, is not), or
- it reports the overload error bit (its own protection has already tripped).
Then its goal is written `backoff_counts` past its present position, toward the goal (a light
grip that holds the object), until the commanded goal comes back within `error_counts` of the
present position or moves to the other side of it (the policy opens the gripper).

Thresholds, against the STS3215's ratings: stall torque 19.5 kg.cm at 7.4 V (30 kg.cm for the
12 V C018); a real STS3215 at about half its stall torque (1.5 kg on a 10 cm lever at 12 V) holds
20-30 counts (1.8-2.6 degrees) from its goal, and its overheat protection trips at 70 C. The
default 60 counts (5.3 degrees) is past what a loaded joint holds, and 0.5 s at the full torque
limit is well inside the time a servo takes to heat up (minutes), so the guard acts long
before the servo's own overload protection.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from dataclasses import dataclass

from act_tool.hw.feetech.protocol import ErrorBit


@dataclass(frozen=True)
class StallConfig:
    error_counts: int = 60  # position error (counts, 4096 a turn) that counts as pushing
    hold_s: float = 0.5  # ... held this long: stalled
    backoff_counts: int = 15  # the goal is then this far past the present position
    still_counts: int = 20  # a shaft that moved less than this over hold_s is held
    joints: tuple[int, ...] | None = None  # joint indices guarded; None: all

    def __post_init__(self) -> None:
        if self.error_counts <= 0 or self.hold_s <= 0 or self.backoff_counts < 0:
            raise ValueError("stall thresholds: error_counts > 0, hold_s > 0, backoff_counts >= 0")
        if self.still_counts <= 0:
            raise ValueError("still_counts must be > 0")
        if self.backoff_counts >= self.error_counts:
            raise ValueError("the back-off must be smaller than the stall error")


class StallGuard:
    """Per joint: since when its error is held, whether it is backed off, how often it was."""

    def __init__(self, config: StallConfig, n_joints: int) -> None:
        self.config = config
        self.joints = tuple(range(n_joints)) if config.joints is None else config.joints
        self._since = [-1.0] * n_joints  # when the error was first above the threshold
        self._side = [0] * n_joints  # the error's sign then
        self._at = [0] * n_joints  # the present position then
        self.stalled = [False] * n_joints
        self.events = [0] * n_joints  # times a joint was backed off

    def apply(
        self,
        goals: MutableSequence[int],
        present: Sequence[int],
        error_bits: Sequence[int],
        now: float,
    ) -> None:
        """Back off the goals (counts, in place) of stalled joints."""
        c = self.config
        for j in self.joints:
            error = goals[j] - present[j]
            side = (error > 0) - (error < 0)
            if abs(error) <= c.error_counts or (self._side[j] and side != self._side[j]):
                self._since[j] = -1.0  # within reach, or the goal moved to the other side
                self._side[j] = 0
                self.stalled[j] = False
                if abs(error) <= c.error_counts:
                    continue
            if self._since[j] < 0 or abs(present[j] - self._at[j]) >= c.still_counts:
                self._since[j] = now  # (again): the shaft still moves
                self._side[j] = side
                self._at[j] = present[j]
            if not self.stalled[j] and (
                now - self._since[j] >= c.hold_s or error_bits[j] & ErrorBit.OVERLOAD
            ):
                self.stalled[j] = True
                self.events[j] += 1
            if self.stalled[j]:
                goals[j] = present[j] + side * c.backoff_counts

    def report(self, names: Sequence[str]) -> str:
        parts = [
            f"{names[j]} {n} time{'s' if n != 1 else ''}" for j, n in enumerate(self.events) if n
        ]
        if not parts:
            return ""
        return (
            "stall protection backed goals off toward the present position: "
            + ", ".join(parts)
            + " (a joint held away from its goal: an object in the gripper, or a blocked joint)"
        )
