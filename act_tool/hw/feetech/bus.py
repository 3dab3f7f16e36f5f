"""The Feetech servo bus: ping, read, write, sync-read and sync-write over a Transport.

The transactions themselves (deadlines, collecting answers, the ledger of late ones, fault counts)
are the layer beneath (transactions.py), shared with the sync plans (sync.py). Reads are retried
(`read_retries`); plain writes never are, since a repeated write could repeat a motion;
`write_checked` repeats a write of an absolute value until reading it back shows it holds.

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
from collections.abc import Mapping, Sequence

from act_tool.hw.errors import (
    BusTimeoutError,
    ChecksumError,
    RegisterMismatchError,
    ServoModelError,
)
from act_tool.hw.feetech import protocol as p
from act_tool.hw.feetech.protocol import Reg
from act_tool.hw.feetech.sync import SyncReader, SyncWriter
from act_tool.hw.feetech.transactions import Transactions
from act_tool.hw.feetech.transport import Transport

__all__ = ["FeetechBus", "SyncReader", "SyncWriter"]


class FeetechBus(Transactions):
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
        super().__init__(
            transport,
            read_retries=read_retries,
            timeout_margin_s=timeout_margin_s,
            return_delay_s=return_delay_s,
            ignored_error_bits=ignored_error_bits,
        )
        self.servo_names = dict(servo_names or {})  # named in errors: "servo 6 (gripper)"

    # --- lifecycle -------------------------------------------------------------------------

    def connect(self) -> None:
        self.transport.open()
        self.owed.clear()
        self._connected = True

    def close(self) -> None:
        self._connected = False
        self._pending = None
        self.owed.clear()
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
        self.transact_read(p.ping_packet(servo_id), (servo_id,), 0, what)

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
        self.transact_read(p.read_packet(servo_id, reg), (servo_id,), reg.size, what, check_errors)
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
            self.send(request)
            return
        self.transact(request, (servo_id,), 0, what, check_errors)

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
                self.transact(request, (servo_id,), 0, what, check_errors)
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
        self.transact_read(p.sync_read_packet(reg, list(ids)), tuple(ids), reg.size, what)
        return {
            servo_id: p.decode_value(reg, self._word(slot, reg.size))
            for slot, servo_id in enumerate(ids)
        }

    def sync_write(self, reg: Reg, values: Mapping[int, int]) -> None:
        """One register on several servos in one packet; servos do not answer it."""
        if reg.area is p.Area.READ_ONLY:
            raise ValueError(f"{reg.name} is read-only")
        self.send(p.sync_write_packet(reg, dict(values)))

    def sync_reader(self, reg: Reg, ids: Sequence[int], *, strict: bool = False) -> SyncReader:
        """The per-tick read; `strict` raises ServoError on error bits instead of recording."""
        return SyncReader(self, reg, tuple(ids), strict=strict)

    def sync_writer(self, reg: Reg, ids: Sequence[int]) -> SyncWriter:
        return SyncWriter(self, reg, tuple(ids))

    def fault_report(self) -> str:
        """Missing answers by servo and kind since connect (or `faults.clear()`); "" if none."""
        return self.faults.report(self.servo_names)
