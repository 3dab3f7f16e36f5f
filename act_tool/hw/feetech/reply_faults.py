"""Missing answers counted by servo and kind, as the host sees them:

- timeout: no answer before the deadline (lost on the wire, or late: a servo that answers after
  the host gave up; an unplugged servo's count climbs every request);
- corrupt: an answer whose checksum is wrong (noise, a loose cable);
- late: an answer that came after its deadline and was recognised as such (owed.py), never taken
  for a later request's. It was counted as a timeout first: lost = timeout - late.

Counting is three list increments on a failure and nothing on success.
"""

from __future__ import annotations

from collections.abc import Mapping

KINDS = ("lost", "corrupt", "late")


class ReplyFaults:
    def __init__(self) -> None:
        self.timeout = [0] * 256
        self.corrupt = [0] * 256
        self.late = [0] * 256
        self.total = 0  # answers missing (timeouts and corrupt ones)

    def clear(self) -> None:
        for counts in (self.timeout, self.corrupt, self.late):
            counts[:] = [0] * 256
        self.total = 0

    def by_servo(self) -> dict[int, dict[str, int]]:
        """Non-zero counts: servo id -> {"lost": n, "corrupt": n, "late": n}."""
        out: dict[int, dict[str, int]] = {}
        for servo_id in range(256):
            t, c, late = self.timeout[servo_id], self.corrupt[servo_id], self.late[servo_id]
            if t or c or late:
                out[servo_id] = {"lost": max(0, t - late), "corrupt": c, "late": late}
        return out

    def report(self, names: Mapping[int, str]) -> str:
        """One line for a run's summary, or "" when every answer came."""
        parts = []
        for servo_id, kinds in self.by_servo().items():
            name = names.get(servo_id)
            who = f"servo {servo_id} ({name})" if name else f"servo {servo_id}"
            counts = ", ".join(f"{n} {kind}" for kind, n in kinds.items() if n)
            parts.append(f"{who} {counts}")
        if not parts:
            return ""
        return "bus faults (answers asked again or ticks held): " + "; ".join(parts)
