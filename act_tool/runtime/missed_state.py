"""Ticks whose joint state did not come: held, counted, and ended past a budget.

A tick whose state read fails after the retries that fit it (a lost or corrupted answer: the
arm raises a ReplyMissingError) holds: no goal is computed from a stale or missing state, no goal
is written, and the servos keep their last one. The run stops only when the state has been
missing in more consecutive ticks than the budget (`--max-missed-state`: a number of ticks, or
milliseconds such as `100ms`, converted at the run's rate). The stop names the servos whose
answers were missing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from act_tool.errors import ActToolError
from act_tool.hw.errors import ChecksumError, ReplyMissingError

DEFAULT_BUDGET = "100ms"  # a 100 ms outage at 30 Hz: 3 ticks held, the 4th stops
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|ticks?)?\s*$")


class StateLostError(ActToolError):
    """The joints' state stayed missing longer than the budget."""


@dataclass(frozen=True)
class MissedStateBudget:
    """How long the state may be missing: `ticks`, or `ms` (converted at the run's rate)."""

    ticks: int | None = None
    ms: float | None = None

    def __post_init__(self) -> None:
        if (self.ticks is None) == (self.ms is None):
            raise ActToolError("give the missed-state budget in ticks or in ms, one of them")
        value = self.ticks if self.ticks is not None else self.ms
        if not (value is not None and math.isfinite(value) and value > 0):
            raise ActToolError(
                f"--max-missed-state {self}: give a positive number of ticks (3) or "
                "milliseconds (100ms); the run already stops at once on a servo that keeps "
                "a fault, so a budget of zero would end it on the first lost answer"
            )

    @classmethod
    def parse(cls, text: str | MissedStateBudget) -> MissedStateBudget:
        """ "3", "3ticks" (ticks) or "100ms"."""
        if isinstance(text, MissedStateBudget):
            return text
        m = _PATTERN.match(str(text))
        if m is None:
            raise ActToolError(
                f"--max-missed-state {text!r}: give a number of ticks (3) or milliseconds (100ms)"
            )
        value, unit = float(m.group(1)), m.group(2)
        if unit == "ms":
            return cls(ms=value)
        if value != int(value):
            raise ActToolError(f"--max-missed-state {text!r}: ticks are whole numbers")
        return cls(ticks=int(value))

    def ticks_at(self, fps: float) -> int:
        """Consecutive ticks that may hold at `fps`; a budget shorter than one tick is refused
        (it would end the run on the first lost answer, as a budget of zero would)."""
        if self.ticks is not None:
            return self.ticks
        assert self.ms is not None
        ticks = int(math.floor(self.ms * fps / 1000.0 + 1e-9))
        if ticks < 1:
            raise ActToolError(
                f"--max-missed-state {self} is shorter than one tick at {fps:g} Hz "
                f"({1000.0 / fps:.1f} ms): give at least {math.ceil(1000.0 / fps)}ms or 1 tick"
            )
        return ticks

    def __str__(self) -> str:
        return f"{self.ticks}" if self.ticks is not None else f"{self.ms:g}ms"


class StateWatch:
    """The loop's count of held ticks; `missed` raises StateLostError past the budget."""

    def __init__(self, budget_ticks: int, fps: float, servo_names: dict[int, str]) -> None:
        self.budget_ticks = budget_ticks
        self.period_ms = 1000.0 / fps
        self.servo_names = servo_names
        self.held = 0  # ticks held in the run
        self.consecutive = 0
        self.longest = 0  # the longest run of consecutive held ticks
        self.outages = 0  # runs of held ticks
        self._missing: dict[int, int] = {}  # servo id -> held ticks it was missing in, this outage
        self._corrupt: set[int] = set()

    def ok(self) -> None:
        if self.consecutive:
            self.consecutive = 0
            self._missing.clear()
            self._corrupt.clear()

    def missed(self, error: ReplyMissingError) -> None:
        """A held tick; raises StateLostError when it is one too many."""
        self.held += 1
        self.consecutive += 1
        if self.consecutive == 1:
            self.outages += 1
        self.longest = max(self.longest, self.consecutive)
        for servo_id in error.missing_ids:
            self._missing[servo_id] = self._missing.get(servo_id, 0) + 1
        if isinstance(error, ChecksumError):
            self._corrupt.update(error.missing_ids)
        if self.consecutive > self.budget_ticks:
            raise StateLostError(self.message())

    def label(self, servo_id: int) -> str:
        name = self.servo_names.get(servo_id)
        return f"servo {servo_id} ({name})" if name else f"servo {servo_id}"

    def message(self) -> str:
        n = self.consecutive
        always = [s for s, k in self._missing.items() if k == n]
        sometimes = [s for s, k in self._missing.items() if k < n]
        parts = []
        if always:
            who = ", ".join(self.label(s) for s in always)
            parts.append(
                f"{who} did not answer in any of them (unplugged, its power lost, or its cable "
                "loose: check it)"
            )
        if sometimes:
            parts.append(
                "answers missing now and then from " + ", ".join(map(self.label, sometimes))
            )
        if self._corrupt:
            parts.append(
                "corrupted answers from " + ", ".join(map(self.label, sorted(self._corrupt)))
            )
        return (
            f"the joints' state was missing in {n} consecutive ticks "
            f"({n * self.period_ms:.0f} ms; the budget, --max-missed-state, holds "
            f"{self.budget_ticks})" + (": " + "; ".join(parts) if parts else "")
        )

    def report(self) -> str:
        """One line for the summary ("" when every tick had its state)."""
        if not self.held:
            return ""
        return (
            f"held {self.held} ticks without a state (servos kept their last goal) in "
            f"{self.outages} outage{'s' if self.outages != 1 else ''}, the longest "
            f"{self.longest} tick{'s' if self.longest != 1 else ''} "
            f"(budget {self.budget_ticks})"
        )
