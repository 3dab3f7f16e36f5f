"""The answers a bus is still owed: servo and reply length of each request that timed out.

A servo answers every request it heard, in order, but may answer late, after the host gave up
waiting; status packets carry no sequence number, so a late answer looks like the answer to the
next request of the same shape. The bus keeps this ledger so that a late answer never passes for
a later request's:
- an answer of an owed length from that servo is taken as the late one (paying the debt), never
  as the answer sought;
- a read whose answers would have an owed length asks for more bytes (`free_extra`), so that its
  answers cannot be mistaken;
- an answer from a servo that is not owed settles all its debts: it answers in order, so what it
  owed came before it or never will.
"""

from __future__ import annotations

from collections.abc import Sequence


class OwedReplies:
    """Debts by servo id and status packet length byte (data + 2)."""

    def __init__(self) -> None:
        self._by_id: list[dict[int, int] | None] = [None] * 256
        self.count = 0  # all debts: 0 means nothing to check

    def add(self, servo_id: int, length: int) -> None:
        debts = self._by_id[servo_id]
        if debts is None:
            debts = self._by_id[servo_id] = {}
        debts[length] = debts.get(length, 0) + 1
        self.count += 1

    def owes(self, servo_id: int, length: int) -> bool:
        debts = self._by_id[servo_id]
        return debts is not None and length in debts

    def pay(self, servo_id: int, length: int) -> None:
        """One late answer of `length` from `servo_id` came."""
        debts = self._by_id[servo_id]
        if debts is None or length not in debts:
            return
        debts[length] -= 1
        self.count -= 1
        if not debts[length]:
            del debts[length]

    def settle(self, servo_id: int) -> None:
        """`servo_id` answered a later request: nothing earlier is still to come from it."""
        debts = self._by_id[servo_id]
        if debts:
            self.count -= sum(debts.values())
            debts.clear()

    def clear(self) -> None:
        for debts in self._by_id:
            if debts:
                debts.clear()
        self.count = 0

    def free_extra(self, ids: Sequence[int], data_len: int) -> int:
        """The fewest extra data bytes (0 or more) that give answers of a length none of `ids`
        owes."""
        extra = 0
        while any(self.owes(i, data_len + extra + 2) for i in ids):
            extra += 1
        return extra
