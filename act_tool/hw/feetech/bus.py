"""The Feetech servo bus: ping, read, write, sync-read and sync-write over a Transport.

Every transaction has a deadline computed from its byte count at the bus's baud rate, the
servos' return delay and a margin. Status packets are found by their header, so garbage on the
line is skipped. Reads are retried (`read_retries`); plain writes never are, since a repeated
write could repeat a motion; `write_checked` repeats a write of an absolute value until reading
it back shows it holds. A late answer to a request that timed out is never taken for a later
request's answer (owed.py).

For the control tick, `sync_reader()` and `sync_writer()` return plans with every buffer
allocated once: a tick allocates nothing that outlives it. A sync-read can be split in two,
`send()` then `receive()`, so the tick does other work while the answers are on the wire. The
per-tick sync-read records the servos' status error bits (overload, overheat, ...) instead of
raising, as LeRobot's sync_read does (scservo_sdk's GroupSyncRead ignores the error byte);
`strict=True` raises ServoError.
Every other transaction (ping, read, write, the dict sync_read used on connect) raises.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence

from act_tool.hw.errors import (
    BusError,
    BusTimeoutError,
    ChecksumError,
    RegisterMismatchError,
    ServoError,
    ServoModelError,
)
from act_tool.hw.feetech import protocol as p
from act_tool.hw.feetech.owed import OwedReplies
from act_tool.hw.feetech.protocol import Reg
from act_tool.hw.feetech.sync import SyncReader, SyncWriter
from act_tool.hw.feetech.transport import Transport

__all__ = ["FeetechBus", "SyncReader", "SyncWriter"]

RX_BUFFER_SIZE = 2048
_WIDENABLE = (p.Instruction.PING, p.Instruction.READ, p.Instruction.SYNC_READ)


class FeetechBus:
    """Transactions on one bus. Construct, then `connect()` (or use as a context manager)."""

    def __init__(
        self,
        transport: Transport,
        *,
        read_retries: int = 2,
        timeout_margin_s: float = 0.010,
        return_delay_s: float = 0.0005,
        ignored_error_bits: int = 0,
        servo_names: Mapping[int, str] | None = None,
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
        self.servo_names = dict(servo_names or {})  # named in errors: "servo 6 (gripper)"
        self._byte_s = 10.0 / transport.baudrate
        self._rx = bytearray(RX_BUFFER_SIZE)
        rx_view = memoryview(self._rx)
        # _rx from each offset on, made on first use and kept: reads allocate no slice a tick
        self._rx_tail: list[memoryview | None] = [rx_view] + [None] * (RX_BUFFER_SIZE - 1)
        self._rx_view = rx_view
        self._slot_of = [-1] * 256  # servo id -> answer slot, for the current transaction
        self._offsets = [-1] * 256  # answer slot -> offset of its status packet in _rx
        self._bad_checksum = [False] * 256  # answer slot -> a corrupted packet carried its id
        self._pending: SyncReader | None = None  # a sync-read sent and not yet received
        self._owed = OwedReplies()  # answers that may still come to requests that timed out
        self._connected = False

    # --- lifecycle -------------------------------------------------------------------------

    def connect(self) -> None:
        self.transport.open()
        self._owed.clear()
        self._connected = True

    def close(self) -> None:
        self._connected = False
        self._pending = None
        self._owed.clear()
        self.transport.close()

    @property
    def is_connected(self) -> bool:
        return self._connected

    def __enter__(self) -> FeetechBus:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- single-servo transactions ----------------------------------------------------------

    def ping(self, servo_id: int) -> None:
        """Raise BusTimeoutError unless `servo_id` answers a PING."""
        what = f"ping of {self.label(servo_id)}"
        self._transact_read(p.ping_packet(servo_id), (servo_id,), 0, what)

    def model_number(self, servo_id: int) -> int:
        return self.read(servo_id, Reg.MODEL_NUMBER)

    def check_model(self, servo_id: int, expected: int = p.STS3215_MODEL_NUMBER) -> None:
        found = self.model_number(servo_id)
        if found != expected:
            raise ServoModelError(
                f"servo id {servo_id} has model number {found}, expected {expected} (STS3215)"
            )

    def read(self, servo_id: int, reg: Reg) -> int:
        """One register of one servo, decoded (sign-magnitude registers come back signed)."""
        return self._read(servo_id, reg, f"read of {reg.name} from {self.label(servo_id)}")

    def _read(self, servo_id: int, reg: Reg, what: str, check_errors: bool = True) -> int:
        self._transact_read(p.read_packet(servo_id, reg), (servo_id,), reg.size, what, check_errors)
        return p.decode_value(reg, self._word(0, reg.size))

    def write(self, servo_id: int, reg: Reg, value: int, *, check_errors: bool = True) -> None:
        """Write one register and wait for the status packet. Never retried (where an earlier
        acknowledgement of this servo is still owed, a ping first tells the two apart). The
        servo applies the write even when its status reports error bits; `check_errors=False`
        accepts them."""
        if reg.area is p.Area.READ_ONLY:
            raise ValueError(f"{reg.name} is read-only")
        what = f"write of {reg.name} = {value} to {self.label(servo_id)}"
        request = p.write_packet(servo_id, reg, value)
        if servo_id == p.BROADCAST_ID:
            self._send(request)
            return
        self._transact(request, (servo_id,), 0, what, check_errors)

    def write_checked(
        self, servo_id: int, reg: Reg, value: int, *, attempts: int = 3, check_errors: bool = True
    ) -> None:
        """Write an absolute value (safe to repeat) and read it back; write again, up to
        `attempts` times, while the acknowledgement or the read-back is lost or corrupt or the
        value read differs. Raises RegisterMismatchError naming what the servo keeps, or the
        last read-back's BusTimeoutError / ChecksumError when it stays silent or garbled;
        ServoError at once on error bits (unless `check_errors` is False)."""
        if reg.area is p.Area.READ_ONLY or servo_id == p.BROADCAST_ID:
            raise ValueError(f"{reg.name} on servo {servo_id} cannot be written and read back")
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        label = self.label(servo_id)
        what = f"write of {reg.name} = {value} to {label}"
        request = p.write_packet(servo_id, reg, value)
        read_what = f"read-back of {reg.name} (written {value}) from {label}"
        found: int | None = None
        for attempt in range(attempts):
            # a lost or garbled acknowledgement need not mean a lost write: the read-back tells
            with contextlib.suppress(BusTimeoutError, ChecksumError):
                self._transact(request, (servo_id,), 0, what, check_errors)
            try:
                found = self._read(servo_id, reg, read_what, check_errors)
            except (BusTimeoutError, ChecksumError):
                if attempt == attempts - 1:
                    raise
                found = None
                continue
            if found == value:
                return
        raise RegisterMismatchError(what, servo_id, reg.name, value, found, attempts)

    def label(self, servo_id: int) -> str:
        """How errors name a servo: "servo 6 (gripper)", or "servo 6" without a name."""
        name = self.servo_names.get(servo_id)
        return f"servo {servo_id} ({name})" if name else f"servo {servo_id}"

    # --- group transactions -----------------------------------------------------------------

    def sync_read(self, reg: Reg, ids: Sequence[int]) -> dict[int, int]:
        """One register of several servos (each answers in turn), decoded."""
        what = f"sync-read of {reg.name} from servos {list(ids)}"
        self._transact_read(p.sync_read_packet(reg, list(ids)), tuple(ids), reg.size, what)
        return {
            servo_id: p.decode_value(reg, self._word(slot, reg.size))
            for slot, servo_id in enumerate(ids)
        }

    def sync_write(self, reg: Reg, values: Mapping[int, int]) -> None:
        """One register on several servos in one packet; servos do not answer it."""
        if reg.area is p.Area.READ_ONLY:
            raise ValueError(f"{reg.name} is read-only")
        self._send(p.sync_write_packet(reg, dict(values)))

    def sync_reader(self, reg: Reg, ids: Sequence[int], *, strict: bool = False) -> SyncReader:
        """The per-tick read; `strict` raises ServoError on error bits instead of recording."""
        return SyncReader(self, reg, tuple(ids), strict=strict)

    def sync_writer(self, reg: Reg, ids: Sequence[int]) -> SyncWriter:
        return SyncWriter(self, reg, tuple(ids))

    # --- internals --------------------------------------------------------------------------

    def _send(self, request: bytes | bytearray) -> None:
        if not self._connected:
            raise BusError("the bus is not connected: call connect() first")
        if self._pending is not None:
            self._settle()
        self.transport.write(request)

    def _settle(self) -> None:
        """Wait out a sync-read sent but never received (its caller stopped in between, e.g.
        on an error): its answers, still arriving, could pass for the next transaction's.
        Returns once they are in or its deadline passed; what they say is dropped."""
        reader, self._pending = self._pending, None
        if reader is None:
            return
        with contextlib.suppress(BusError):  # lost or garbled: dropped all the same
            self._finish(reader.ids, reader._sent_size, reader._what, False, reader._deadline)

    def _word(self, slot: int, size: int) -> int:
        o = self._offsets[slot] + 5  # FF FF id len error | data
        return self._rx[o] if size == 1 else self._rx[o] | self._rx[o + 1] << 8

    def _deadline(self, request_len: int, n_replies: int, data_len: int) -> float:
        n_bytes = request_len + n_replies * (data_len + p.STATUS_OVERHEAD)
        return (
            time.perf_counter()
            + n_bytes * self._byte_s
            + n_replies * self.return_delay_s
            + self.timeout_margin_s
        )

    def _transact_read(
        self,
        request: bytes | bytearray,
        ids: tuple[int, ...],
        data_len: int,
        what: str,
        check_errors: bool = True,
        retries: int | None = None,
    ) -> None:
        retries = self.read_retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                self._transact(request, ids, data_len, what, check_errors)
                return
            except (BusTimeoutError, ChecksumError):
                if attempt == retries:
                    raise
                self.transport.discard_input()

    def _transact(
        self,
        request: bytes | bytearray,
        ids: tuple[int, ...],
        data_len: int,
        what: str,
        check_errors: bool = True,
    ) -> None:
        """Send `request` and collect one status packet per id into _offsets (slot = index);
        while answers are owed (owed.py), a read asks for more bytes and an acknowledgement
        waits for a ping to settle them first. Raises ChecksumError for a missing servo whose
        answer arrived corrupted, otherwise BusTimeoutError naming the missing ids; with
        `check_errors`, ServoError on error bits."""
        owed = self._owed
        if owed.count:
            if request[4] in _WIDENABLE:
                request, data_len = self._unowed(request, ids, data_len)
            else:  # an acknowledgement has one length: settle what is owed before asking
                for servo_id in ids:
                    if owed.owes(servo_id, data_len + 2):
                        self._probe(servo_id)
        deadline = self._begin(request, len(ids), data_len)
        self._finish(ids, data_len, what, check_errors, deadline)

    def _probe(self, servo_id: int) -> None:
        """A ping whose answer settles what `servo_id` owes (asked in a length it does not
        owe); raises as `ping` when the servo does not answer it."""
        what = f"ping of {self.label(servo_id)} (to tell a late answer from the next)"
        self._transact_read(p.ping_packet(servo_id), (servo_id,), 0, what, check_errors=False)

    def _unowed(
        self, request: bytes | bytearray, ids: Sequence[int], data_len: int
    ) -> tuple[bytes | bytearray, int]:
        """`request` asked so that no answer to it has a length these servos still owe."""
        extra = self._owed.free_extra(ids, data_len)
        if not extra:
            return request, data_len
        return p.widened(request, extra), data_len + extra

    def _begin(self, request: bytes | bytearray, n_replies: int, data_len: int) -> float:
        """Put a request on the wire; returns the deadline for its answers."""
        if self._pending is not None:
            self._settle()
        self.transport.discard_input()  # a late answer to an earlier request is stale
        self._send(request)
        return self._deadline(len(request), n_replies, data_len)

    def _finish(
        self, ids: tuple[int, ...], data_len: int, what: str, check_errors: bool, deadline: float
    ) -> None:
        """Collect the answers to the request `_begin` sent (see `_transact`)."""
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
            missing = [s for s in range(n) if self._offsets[s] < 0]
            corrupted = [s for s in missing if self._bad_checksum[s]]
            for s in missing:
                if not self._bad_checksum[s]:  # its answer may yet come, late
                    self._owed.add(ids[s], data_len + 2)
            if corrupted:
                raise ChecksumError(what, ids[corrupted[0]])
            raise BusTimeoutError(what, [ids[s] for s in missing])
        if not check_errors:
            return
        rx = self._rx
        for slot in range(n):
            error = rx[self._offsets[slot] + 4] & ~self.ignored_error_bits
            if error:
                raise ServoError(what, ids[slot], error, p.error_names(error))

    def _collect(self, n: int, data_len: int, deadline: float) -> int:
        """Read status packets until n distinct expected servos answered or the deadline."""
        rx = self._rx
        offsets = self._offsets
        slot_of = self._slot_of
        bad = self._bad_checksum
        owed = self._owed
        for slot in range(n):
            offsets[slot] = -1
            bad[slot] = False
        expected_len = data_len + 2
        total = expected_len + 4
        answered = start = end = 0
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
                        if slot >= 0:  # reported only if this servo's answer never arrives
                            bad[slot] = True
                        start += 1
                        continue
                    slot = slot_of[servo_id]
                    if slot >= 0 and offsets[slot] < 0:
                        if owed.count and owed.owes(servo_id, expected_len):
                            owed.pay(servo_id, expected_len)  # a late answer to an earlier one
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
            view = self._rx_tail[end]
            if view is None:
                view = self._rx_tail[end] = self._rx_view[end:]
            got = self.transport.read_into(view, deadline)
            if got == 0:
                break
            end += got
        return answered
