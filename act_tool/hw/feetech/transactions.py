"""The transaction layer beneath the bus's calls and the tick's sync plans: put a request on the
wire, collect one status packet per servo before a deadline, ask again when one is lost.

Every transaction has a deadline computed from its byte count at the baud rate, the servos'
return delay and a margin. Status packets are found by their header, so garbage on the line is
skipped. A late answer to a request that timed out is never taken for a later request's answer
(owed.py). Every answer that is missing is counted by servo and kind (reply_faults.py): no answer
in time, a corrupted one, and the late ones that came after all.

FeetechBus (bus.py) builds its calls on this; the sync plans (sync.py) use its public methods
only. Nothing here imports either of them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Protocol

from act_tool.hw.errors import BusError, BusTimeoutError, ChecksumError, ServoError
from act_tool.hw.feetech import protocol as p
from act_tool.hw.feetech.owed import OwedReplies
from act_tool.hw.feetech.reply_faults import ReplyFaults
from act_tool.hw.feetech.transport import Transport

RX_BUFFER_SIZE = 2048
GARBLED_GRACE_S = 0.002  # waited after the last garbled answer for a proper one
_WIDENABLE = (p.Instruction.PING, p.Instruction.READ, p.Instruction.SYNC_READ)


class PendingRead(Protocol):
    """A sync-read sent and not yet received (sync.SyncReader)."""

    ids: tuple[int, ...]
    sent_size: int
    what: str
    deadline: float


class Transactions:
    """Requests and their answers on one transport; see the module docstring."""

    def __init__(
        self,
        transport: Transport,
        *,
        read_retries: int = 2,
        timeout_margin_s: float = 0.010,
        return_delay_s: float = 0.0005,
        ignored_error_bits: int = 0,
    ) -> None:
        if read_retries < 0:
            raise ValueError("read_retries must be >= 0")
        if timeout_margin_s <= 0:
            raise ValueError("timeout_margin_s must be > 0")
        self.transport = transport
        self.read_retries = read_retries
        self.timeout_margin_s = timeout_margin_s
        # Worst-case wait before each reply: Return_Delay_Time is 250 (0.5 ms) from the factory.
        self.return_delay_s = return_delay_s
        # Status error bits that do not raise ServoError where errors raise (e.g.
        # ErrorBit.OVERLOAD for a gripper that squeezes an object); by default every bit raises.
        self.ignored_error_bits = int(ignored_error_bits)
        self.faults = ReplyFaults()  # missing answers by servo and kind
        self._byte_s = 10.0 / transport.baudrate
        self.rx = bytearray(RX_BUFFER_SIZE)
        rx_view = memoryview(self.rx)
        # rx from each offset on, made on first use and kept: reads allocate no slice a tick
        self._rx_tail: list[memoryview | None] = [rx_view] + [None] * (RX_BUFFER_SIZE - 1)
        self._rx_view = rx_view
        self._slot_of = [-1] * 256  # servo id -> answer slot, for the current transaction
        self.offsets = [-1] * 256  # answer slot -> offset of its status packet in rx
        self._bad_checksum = [False] * 256  # answer slot -> a corrupted packet carried its id
        self._pending: PendingRead | None = None  # a sync-read sent and not yet received
        self.owed = OwedReplies()  # answers that may still come to requests that timed out
        self._connected = False

    # --- what the sync plans use ------------------------------------------------------------

    def send(self, request: bytes | bytearray) -> None:
        """Put a packet that has no answer on the wire (after waiting out a pending read)."""
        if not self._connected:
            raise BusError("the bus is not connected: call connect() first")
        if self._pending is not None:
            self._settle()
        self.transport.write(request)

    def send_read(self, reader: PendingRead, request: bytes | bytearray, data_len: int) -> None:
        """Send a read whose answers `reader` collects later (`receive_read`); while answers
        are owed it is asked in a length they do not have. Sets the reader's sent_size and
        deadline."""
        if self.owed.count:
            request, data_len = self.unowed(request, reader.ids, data_len)
        reader.sent_size = data_len
        reader.deadline = self.begin(request, len(reader.ids), data_len)
        self._pending = reader

    def take_pending(self, reader: PendingRead) -> bool:
        """Whether `reader`'s request is the one on the wire (and now no longer pending)."""
        if self._pending is not reader:
            return False
        self._pending = None
        return True

    def begin(self, request: bytes | bytearray, n_replies: int, data_len: int) -> float:
        """Put a request on the wire; returns the deadline for its answers."""
        if self._pending is not None:
            self._settle()
        self.transport.discard_input()  # a late answer to an earlier request is stale
        self.send(request)
        return self._deadline(len(request), n_replies, data_len)

    def attempt_s(self, request_len: int, n_replies: int, data_len: int) -> float:
        """The longest one attempt of a request may take (its deadline's span)."""
        return self._deadline(request_len, n_replies, data_len) - time.perf_counter()

    def unowed(
        self, request: bytes | bytearray, ids: Sequence[int], data_len: int
    ) -> tuple[bytes | bytearray, int]:
        """`request` asked so that no answer to it has a length these servos still owe."""
        extra = self.owed.free_extra(ids, data_len)
        if not extra:
            return request, data_len
        return p.widened(request, extra), data_len + extra

    def transact_read(
        self,
        request: bytes | bytearray,
        ids: tuple[int, ...],
        data_len: int,
        what: str,
        check_errors: bool = True,
        retries: int | None = None,
        give_up_at: float | None = None,
        attempt_s: float | None = None,
    ) -> None:
        """`transact`, asked again on a lost or corrupted answer up to `retries` times (the
        bus's read_retries by default); with `give_up_at` (perf_counter time) no attempt starts
        that could end after it, and none waits past it; with `attempt_s`, none waits longer."""
        retries = self.read_retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                self.transact(request, ids, data_len, what, check_errors, give_up_at, attempt_s)
                return
            except (BusTimeoutError, ChecksumError):
                if attempt == retries or not self.time_for(request, ids, data_len, give_up_at):
                    raise
                self.transport.discard_input()

    def time_for(
        self,
        request: bytes | bytearray,
        ids: Sequence[int],
        data_len: int,
        give_up_at: float | None,
    ) -> bool:
        """Whether an attempt of `request` sent now gets its answers' wire time and return
        delays before `give_up_at` (the margin is what it gives up)."""
        if give_up_at is None:
            return True
        n = len(ids)
        wire = (len(request) + n * (data_len + p.STATUS_OVERHEAD)) * self._byte_s
        return time.perf_counter() + wire + n * self.return_delay_s < give_up_at

    def transact(
        self,
        request: bytes | bytearray,
        ids: tuple[int, ...],
        data_len: int,
        what: str,
        check_errors: bool = True,
        give_up_at: float | None = None,
        attempt_s: float | None = None,
    ) -> None:
        """Send `request` and collect one status packet per id into `offsets` (slot = index);
        while answers are owed (owed.py), a read asks for more bytes and an acknowledgement
        waits for a ping to settle them first. Raises ChecksumError for a missing servo whose
        answer arrived corrupted, otherwise BusTimeoutError naming the missing ids; with
        `check_errors`, ServoError on error bits."""
        owed = self.owed
        if owed.count:
            if request[4] in _WIDENABLE:
                request, data_len = self.unowed(request, ids, data_len)
            else:  # an acknowledgement has one length: settle what is owed before asking
                for servo_id in ids:
                    if owed.owes(servo_id, data_len + 2):
                        self._probe(servo_id)
        deadline = self.begin(request, len(ids), data_len)
        if attempt_s is not None:
            deadline = min(deadline, time.perf_counter() + attempt_s)
        if give_up_at is not None and give_up_at < deadline:
            deadline = give_up_at
        self.finish(ids, data_len, what, check_errors, deadline)

    def finish(
        self, ids: tuple[int, ...], data_len: int, what: str, check_errors: bool, deadline: float
    ) -> None:
        """Collect the answers to the request `begin` sent (see `transact`)."""
        n = len(ids)
        slot_of = self._slot_of
        for slot in range(n):
            slot_of[ids[slot]] = slot
        try:
            answered = self._collect(n, data_len, deadline)
        finally:
            for slot in range(n):
                slot_of[ids[slot]] = -1
        if answered < n:
            self.transport.discard_input()
            missing = [s for s in range(n) if self.offsets[s] < 0]
            corrupted = [s for s in missing if self._bad_checksum[s]]
            self.faults.total += len(missing)
            for s in missing:
                if self._bad_checksum[s]:
                    self.faults.corrupt[ids[s]] += 1
                else:
                    self.faults.timeout[ids[s]] += 1
                # its answer may yet come, late (or the garbled packet was another's: the
                # collection stops at a garbled answer, whose id byte may itself be wrong)
                self.owed.add(ids[s], data_len + 2)
            if corrupted:
                error = ChecksumError(what, ids[corrupted[0]])
                error.missing_ids = tuple(ids[s] for s in missing)
                raise error
            raise BusTimeoutError(what, [ids[s] for s in missing])
        if not check_errors:
            return
        rx = self.rx
        for slot in range(n):
            error = rx[self.offsets[slot] + 4] & ~self.ignored_error_bits
            if error:
                raise ServoError(what, ids[slot], error, p.error_names(error))

    def label(self, servo_id: int) -> str:
        return f"servo {servo_id}"

    # --- internals --------------------------------------------------------------------------

    def _settle(self) -> None:
        """Wait out a sync-read sent but never received (its caller stopped in between, e.g.
        on an error): its answers, still arriving, could pass for the next transaction's.
        Returns once they are in or its deadline passed; what they say is dropped."""
        reader, self._pending = self._pending, None
        if reader is None:
            return
        with contextlib.suppress(BusError):  # lost or garbled: dropped all the same
            self.finish(reader.ids, reader.sent_size, reader.what, False, reader.deadline)

    def _word(self, slot: int, size: int) -> int:
        o = self.offsets[slot] + 5  # FF FF id len error | data
        return self.rx[o] if size == 1 else self.rx[o] | self.rx[o + 1] << 8

    def _deadline(self, request_len: int, n_replies: int, data_len: int) -> float:
        n_bytes = request_len + n_replies * (data_len + p.STATUS_OVERHEAD)
        return (
            time.perf_counter()
            + n_bytes * self._byte_s
            + n_replies * self.return_delay_s
            + self.timeout_margin_s
        )

    def _probe(self, servo_id: int) -> None:
        """A ping whose answer settles what `servo_id` owes (asked in a length it does not
        owe); raises as `ping` when the servo does not answer it."""
        what = f"ping of {self.label(servo_id)} (to tell a late answer from the next)"
        self.transact_read(p.ping_packet(servo_id), (servo_id,), 0, what, check_errors=False)

    def _collect(self, n: int, data_len: int, deadline: float) -> int:
        """Read status packets until n distinct expected servos answered or the deadline."""
        rx = self.rx
        offsets = self.offsets
        slot_of = self._slot_of
        bad = self._bad_checksum
        owed = self.owed
        for slot in range(n):
            offsets[slot] = -1
            bad[slot] = False
        expected_len = data_len + 2
        total = expected_len + 4
        answered = start = end = garbled = 0
        while answered < n:
            avail = end - start
            if avail >= 2 and (rx[start] != 0xFF or rx[start + 1] != 0xFF):
                start += 1  # resynchronise: skip a byte that cannot start a packet
                continue
            if avail >= 4:
                servo_id = rx[start + 2]
                # Every answer to this request has the same length: a header with another one
                # is garbage, skipped at once (waiting for its claimed length would stall).
                if servo_id > p.MAX_SERVO_ID or rx[start + 3] != expected_len:
                    start += 1
                    continue
                if avail >= total:
                    s = 0
                    for k in range(start + 2, start + total - 1):
                        s += rx[k]
                    if (~s & 0xFF) != rx[start + total - 1]:
                        slot = slot_of[servo_id]
                        if slot >= 0 and offsets[slot] < 0 and not bad[slot]:
                            bad[slot] = True  # reported only if its answer never arrives
                            garbled += 1
                        start += 1
                        continue
                    slot = slot_of[servo_id]
                    if slot >= 0 and offsets[slot] < 0:
                        if bad[slot]:  # a good copy after a garbled one (a repeat): take it
                            bad[slot] = False
                            garbled -= 1
                        if owed.count and owed.owes(servo_id, expected_len):
                            owed.pay(servo_id, expected_len)  # a late answer to an earlier one
                            self.faults.late[servo_id] += 1
                        else:
                            if owed.count:
                                owed.settle(servo_id)
                            offsets[slot] = start
                            answered += 1
                    start += total  # a packet for someone else (or a repeat) is skipped whole
                    continue
            if end == RX_BUFFER_SIZE:  # answered packets stay in place: no room is made
                raise BusError(
                    f"receive buffer overflow: {RX_BUFFER_SIZE} bytes arrived without the "
                    "expected answers (the bus is flooded with data: check the wiring and that "
                    "no other program talks on this port)"
                )
            if garbled and answered + garbled >= n and start >= end:
                # every answer still missing came garbled: a servo answers once, so only a
                # packet the garbage was not (a false header) can still come, at once
                deadline = min(deadline, time.perf_counter() + GARBLED_GRACE_S)
            view = self._rx_tail[end]
            if view is None:
                view = self._rx_tail[end] = self._rx_view[end:]
            got = self.transport.read_into(view, deadline)
            if got == 0:
                break
            end += got
        return answered
