"""The control tick's bus transactions, planned once: a sync-read and a sync-write of one register
for fixed servos, with every buffer and packet allocated up front (FeetechBus.sync_reader and
sync_writer make them). The sync-read splits in two, `send()` then `receive()`, so the tick does
other work while the answers are on the wire. They stand on the transaction layer
(transactions.py), through its public methods: the bus makes them, and nothing here imports it."""

from __future__ import annotations

import time
from collections.abc import MutableSequence, Sequence

from act_tool.hw.errors import BusError, BusTimeoutError, ChecksumError
from act_tool.hw.feetech import protocol as p
from act_tool.hw.feetech.protocol import Reg
from act_tool.hw.feetech.transactions import Transactions


class SyncReader:
    """A preallocated sync-read of one register from fixed servos (the per-tick read).

    After each read, `error_bits[slot]` holds each servo's status error byte (ErrorBit flags)
    and `any_error` their OR; with `strict`, error bits not ignored by the bus raise ServoError.
    """

    def __init__(
        self, bus: Transactions, reg: Reg, ids: tuple[int, ...], *, strict: bool = False
    ) -> None:
        self.bus = bus
        self.reg = reg
        self.ids = ids
        self.strict = strict
        self.error_bits = [0] * len(ids)
        self.any_error = 0
        self._request = p.sync_read_packet(reg, list(ids))
        self.what = f"sync-read of {reg.name} from servos {list(ids)}"
        # the register's properties as plain attributes: an Enum property costs a call a read
        self._size = reg.size
        self._sign_bit = reg.sign_bit
        self.deadline = 0.0  # of the answers to the request `send` put on the wire
        self.sent_size = self._size  # data bytes per answer to it (more where some are owed)
        self.sent_at = 0.0

    def read(
        self, out: MutableSequence[int], give_up_at: float | None = None
    ) -> MutableSequence[int]:
        """Fill `out` (an integer array or a list, one per id, in id order) with decoded
        values."""
        self.send()
        return self.receive(out, give_up_at)

    def send(self) -> None:
        """Put the request on the wire and return at once: the answers take the wire time
        (0.6 ms for six positions at 1 Mbps, plus the adapter's latency), which the caller may
        spend on other work, then `receive`s them. Any other transaction on this bus meanwhile
        first waits the answers out and drops them."""
        self.sent_at = time.perf_counter()
        self.bus.send_read(self, self._request, self._size)

    def receive(
        self, out: MutableSequence[int], give_up_at: float | None = None
    ) -> MutableSequence[int]:
        """Collect the answers to `send` into `out` (as `read`); a lost or corrupted answer is
        asked again (the bus's read_retries). `give_up_at` (a perf_counter time, the tick's
        state budget): no wait goes past it and no attempt starts that could not end before it,
        so a lost answer costs the tick at most that; then the BusTimeoutError or
        ChecksumError is raised as when the retries run out. `out` is left unchanged then.
        Each attempt then waits at most its share of the budget (budget / (retries + 1)): on a
        real bus the answers come within a millisecond or two of the request."""
        bus = self.bus
        if not bus.take_pending(self):
            raise BusError(
                f"{self.what}: receive() without a send() before it (or another transaction "
                "came in between)"
            )
        size = self._size
        deadline = self.deadline
        attempt_s = None
        if give_up_at is not None:
            # each attempt its share of what is left, so a lost answer leaves time to ask again
            attempt_s = (give_up_at - self.sent_at) / (bus.read_retries + 1)
            deadline = min(deadline, self.sent_at + attempt_s, give_up_at)
        try:
            bus.finish(self.ids, self.sent_size, self.what, self.strict, deadline)
        except (BusTimeoutError, ChecksumError):
            if bus.read_retries == 0 or not bus.time_for(self._request, self.ids, size, give_up_at):
                raise
            bus.transport.discard_input()
            retries = bus.read_retries - 1
            bus.transact_read(
                self._request, self.ids, size, self.what, self.strict, retries, give_up_at,
                attempt_s,
            )  # fmt: skip
        rx = bus.rx
        offsets = bus.offsets
        error_bits = self.error_bits
        sign_bit = self._sign_bit
        any_error = 0
        for slot in range(len(self.ids)):
            o = offsets[slot] + 4  # FF FF id len | error data
            error = rx[o]
            error_bits[slot] = error
            any_error |= error
            raw = rx[o + 1] if size == 1 else rx[o + 1] | rx[o + 2] << 8
            if sign_bit is not None and raw >> sign_bit & 1:
                raw = -(raw & ((1 << sign_bit) - 1))
            out[slot] = raw
        self.any_error = any_error
        return out


class SyncWriter:
    """A preallocated sync-write of one register to fixed servos (the per-tick write)."""

    def __init__(self, bus: Transactions, reg: Reg, ids: tuple[int, ...]) -> None:
        if reg.size != 2:
            raise ValueError("SyncWriter handles 2-byte registers")
        self.bus = bus
        self.reg = reg
        self.ids = ids
        template = p.sync_write_packet(reg, dict.fromkeys(ids, 0))
        self._packet = bytearray(template)
        # sum of the fixed bytes (id, len, instr, address, size, servo ids)
        self._fixed_sum = sum(template[2:-1])
        self._sign_bit = reg.sign_bit
        self._limit = (1 << reg.sign_bit) - 1 if reg.sign_bit is not None else 0xFFFF

    def write(self, values: Sequence[int]) -> None:
        """Write integer `values` (an array or a list, one per id, in id order); no answer,
        never retried."""
        packet = self._packet
        sign_bit = self._sign_bit
        limit = self._limit
        s = self._fixed_sum
        o = 8  # FF FF FE len instr addr size | id lo hi | id lo hi ...
        for slot in range(len(self.ids)):
            v = int(values[slot])
            if v < 0:
                if sign_bit is None or -v > limit:
                    raise ValueError(f"{self.reg.name} = {v} cannot be encoded")
                v = -v | 1 << sign_bit
            elif v > limit:
                raise ValueError(f"{self.reg.name} = {v} cannot be encoded")
            lo = v & 0xFF
            hi = v >> 8
            packet[o] = lo
            packet[o + 1] = hi
            s += lo + hi
            o += 3
        packet[o - 1] = ~s & 0xFF
        self.bus.send(packet)
