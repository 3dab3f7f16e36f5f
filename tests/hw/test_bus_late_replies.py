"""Late answers and checked writes: an answer that comes after its request timed out is never
taken for a later request's answer; `write_checked` reads back and writes again until it holds."""

from __future__ import annotations

import numpy as np
import pytest

from act_tool.hw.emulator import DEFAULT_CALIBRATION, BusFaults, EmulatorConfig, VirtualArm
from act_tool.hw.errors import BusTimeoutError, ChecksumError, RegisterMismatchError, ServoError
from act_tool.hw.feetech import FeetechBus, Reg, SerialTransport
from act_tool.hw.feetech import protocol as p
from act_tool.hw.feetech.owed import OwedReplies

from .conftest import FakeTransport

NOTHING = b""  # a request whose answer never comes (in time)


def word(servo_id: int, value: int, extra: int = 0, error: int = 0) -> bytes:
    """A status packet with a 2-byte value (and `extra` trailing bytes of a widened read)."""
    return p.status_packet(servo_id, error, value.to_bytes(2, "little") + bytes(extra))


def make_bus(transport: FakeTransport, **options) -> FeetechBus:
    options.setdefault("read_retries", 0)
    bus = FeetechBus(transport, timeout_margin_s=0.01, **options)
    bus.connect()
    return bus


# --- the protocol: widened requests, byte for byte --------------------------------------


def test_widened_requests_bytes():
    read = p.read_packet(2, Reg.MIN_POSITION_LIMIT)
    assert read == bytes.fromhex("FF FF 02 04 02 09 02 EC")
    assert p.widened(read, 1) == bytes.fromhex("FF FF 02 04 02 09 03 EB")
    sync = p.sync_read_packet(Reg.PRESENT_POSITION, [1, 2])
    assert p.widened(sync, 2) == bytes.fromhex("FF FF FE 06 82 38 04 01 02 3A")
    # a PING becomes a READ of the extra bytes from address 0
    assert p.widened(p.ping_packet(3), 1) == bytes.fromhex("FF FF 03 04 02 00 01 F5")
    with pytest.raises(ValueError, match="widened"):
        p.widened(p.write_packet(1, Reg.LOCK, 0), 1)


def test_owed_replies_ledger():
    owed = OwedReplies()
    owed.add(2, 4)
    owed.add(2, 4)
    owed.add(3, 4)
    assert owed.count == 3 and owed.owes(2, 4) and not owed.owes(2, 5)
    assert owed.free_extra([1], 2) == 0 and owed.free_extra([1, 2], 2) == 1
    owed.add(3, 5)
    assert owed.free_extra([2, 3], 2) == 2
    owed.pay(2, 4)
    assert owed.owes(2, 4) and owed.count == 3
    owed.settle(2)
    assert not owed.owes(2, 4) and owed.count == 2
    owed.clear()
    assert owed.count == 0 and not owed.owes(3, 5)


# --- late answers, byte level -----------------------------------------------------------


def test_late_answer_is_not_taken_for_the_next_read(fake_transport: FakeTransport):
    """Homing_Offset times out; its answer (-1080) comes while the bus waits for
    Min_Position_Limit, same servo, same length: the bus asks for one more byte and takes the
    answer of that length (840)."""
    late = word(2, p.encode_value(Reg.HOMING_OFFSET, -1080))
    fake_transport.replies += [NOTHING, late + word(2, 840, extra=1)]
    bus = make_bus(fake_transport)
    with pytest.raises(BusTimeoutError):
        bus.read(2, Reg.HOMING_OFFSET)
    assert bus.read(2, Reg.MIN_POSITION_LIMIT) == 840
    assert fake_transport.written[-1] == bytes.fromhex("FF FF 02 04 02 09 03 EB")
    # the answer of the other length settled the debt: the next read asks as usual
    fake_transport.replies.append(word(2, 3180))
    assert bus.read(2, Reg.MAX_POSITION_LIMIT) == 3180
    assert fake_transport.written[-1] == p.read_packet(2, Reg.MAX_POSITION_LIMIT)


def test_write_after_a_lost_acknowledgement_first_settles_what_is_owed(
    fake_transport: FakeTransport,
):
    """An acknowledgement has one length: before the next write to that servo, the bus pings
    it in a length it does not owe; the late acknowledgement and the ping's answer arrive, and
    the write's own acknowledgement is then the only one of its length (its error bits count)."""
    probe_answer = p.status_packet(1, 0, bytes((3,)))  # firmware major, read from address 0
    fake_transport.replies += [NOTHING, p.status_packet(1) + probe_answer, p.status_packet(1, 0x20)]
    bus = make_bus(fake_transport)
    with pytest.raises(BusTimeoutError):
        bus.write(1, Reg.ACCELERATION, 10)
    with pytest.raises(ServoError, match="overload"):
        bus.write(1, Reg.ACCELERATION, 20)
    assert fake_transport.written[1:] == [
        p.widened(p.ping_packet(1), 1),
        p.write_packet(1, Reg.ACCELERATION, 20),
    ]
    fake_transport.replies.append(p.status_packet(1))
    bus.write(1, Reg.ACCELERATION, 30)  # nothing owed any more: no ping first
    assert fake_transport.written[-2:] == [
        p.write_packet(1, Reg.ACCELERATION, 20),
        p.write_packet(1, Reg.ACCELERATION, 30),
    ]


def test_a_lone_late_acknowledgement_is_not_an_answer(fake_transport: FakeTransport):
    """Only the late acknowledgement comes: neither the ping nor the write takes it."""
    fake_transport.replies += [NOTHING, p.status_packet(1)]
    bus = make_bus(fake_transport)
    with pytest.raises(BusTimeoutError):
        bus.write(1, Reg.ACCELERATION, 10)
    with pytest.raises(BusTimeoutError, match="to tell a late answer from the next"):
        bus.write(1, Reg.ACCELERATION, 20)
    assert fake_transport.written[-1] == p.widened(p.ping_packet(1), 1)  # not written: unsure


def test_tick_reader_asks_in_another_length_while_an_answer_is_owed(
    fake_transport: FakeTransport,
):
    ids = (1, 2, 3)
    fake_transport.replies.append(word(1, 100) + word(2, 200))  # servo 3's answer is late
    bus = make_bus(fake_transport)
    reader = bus.sync_reader(Reg.PRESENT_POSITION, ids)
    out = np.zeros(3, dtype=np.int64)
    with pytest.raises(BusTimeoutError) as e:
        reader.read(out)
    assert e.value.missing_ids == (3,)
    late = word(3, 333)
    fake_transport.replies.append(late + b"".join(word(i, 10 * i, extra=1) for i in ids))
    reader.read(out)
    assert out.tolist() == [10, 20, 30]
    assert fake_transport.written[-1] == p.widened(p.sync_read_packet(Reg.PRESENT_POSITION, ids), 1)
    fake_transport.replies.append(b"".join(word(i, i) for i in ids))
    reader.read(out)  # every servo answered since: the plain request again
    assert out.tolist() == [1, 2, 3]
    assert fake_transport.written[-1] == p.sync_read_packet(Reg.PRESENT_POSITION, ids)


# --- a late answer from the virtual arm (its delay fault) ---------------------------------


def test_late_answer_from_the_virtual_arm_is_never_taken_for_a_later_one():
    """Every answer comes 0.6 s late. The first read gives up after 0.2 s; its answer arrives
    while the second read (same servo, same length) waits, before the second's own answer: the
    second read must return its own register's value, not the first's."""
    cal = DEFAULT_CALIBRATION.joints[1]
    assert cal.homing_offset != cal.range_min
    config = EmulatorConfig(wire_time=False, faults=BusFaults(late=1.0, late_s=0.6))
    with (
        VirtualArm(config) as virtual,
        FeetechBus(SerialTransport(virtual.port), read_retries=0, timeout_margin_s=0.2) as bus,
    ):
        with pytest.raises(BusTimeoutError):
            bus.read(2, Reg.HOMING_OFFSET)
        bus.timeout_margin_s = 3.0  # long enough for the second read's own late answer
        assert bus.read(2, Reg.MIN_POSITION_LIMIT) == cal.range_min


# --- write_checked -----------------------------------------------------------------------


def test_checked_write_reads_back(fake_transport: FakeTransport):
    fake_transport.replies += [p.status_packet(1), p.status_packet(1, 0, bytes((7,)))]
    bus = make_bus(fake_transport)
    bus.write_checked(1, Reg.ACCELERATION, 7)
    assert fake_transport.written == [
        p.write_packet(1, Reg.ACCELERATION, 7),
        p.read_packet(1, Reg.ACCELERATION),
    ]


@pytest.mark.parametrize("ack", [NOTHING, p.status_packet(1)[:-1] + b"\x00"], ids=["lost", "bad"])
def test_checked_write_survives_a_lost_or_corrupt_acknowledgement(fake_transport, ack):
    fake_transport.replies += [ack, p.status_packet(1, 0, bytes((7,)))]
    bus = make_bus(fake_transport)
    bus.write_checked(1, Reg.ACCELERATION, 7)
    assert len(fake_transport.written) == 2  # the value held: written once


def test_checked_write_writes_again_until_the_value_holds(fake_transport: FakeTransport):
    fake_transport.replies += [
        p.status_packet(1),
        p.status_packet(1, 0, bytes((0,))),  # the write did not take
        p.status_packet(1),
        p.status_packet(1, 0, bytes((7,))),
    ]
    bus = make_bus(fake_transport)
    bus.write_checked(1, Reg.ACCELERATION, 7)
    assert (
        fake_transport.written
        == [
            p.write_packet(1, Reg.ACCELERATION, 7),
            p.read_packet(1, Reg.ACCELERATION),
        ]
        * 2
    )


def test_checked_write_names_the_register_a_servo_keeps_wrong(fake_transport: FakeTransport):
    for _ in range(3):
        fake_transport.replies += [p.status_packet(6), word(6, 1000)]
    bus = make_bus(fake_transport, servo_names={6: "gripper"})
    with pytest.raises(RegisterMismatchError) as e:
        bus.write_checked(6, Reg.MAX_TORQUE_LIMIT, 500)
    assert (e.value.servo_id, e.value.register, e.value.written, e.value.found) == (
        6,
        "MAX_TORQUE_LIMIT",
        500,
        1000,
    )
    assert "servo 6 (gripper)" in str(e.value) and "keeps MAX_TORQUE_LIMIT = 1000" in str(e.value)
    assert len(fake_transport.written) == 6


def test_checked_write_to_a_silent_servo_names_it(fake_transport: FakeTransport):
    bus = make_bus(fake_transport, servo_names={4: "wrist_flex"})
    with pytest.raises(BusTimeoutError) as e:
        bus.write_checked(4, Reg.LOCK, 1)
    assert "read-back of LOCK (written 1) from servo 4 (wrist_flex)" in str(e.value)
    assert e.value.missing_ids == (4,)
    assert len(fake_transport.written) == 6  # three writes, each read back


def test_checked_write_garbled_read_back_is_a_checksum_error(fake_transport: FakeTransport):
    bad = p.status_packet(4, 0, bytes((1,)))[:-1] + b"\x00"
    for _ in range(3):
        fake_transport.replies += [p.status_packet(4), bad]
    bus = make_bus(fake_transport)
    with pytest.raises(ChecksumError, match="read-back of LOCK"):
        bus.write_checked(4, Reg.LOCK, 1)


def test_checked_write_stops_at_error_bits(fake_transport: FakeTransport):
    fake_transport.replies.append(p.status_packet(2, p.ErrorBit.OVERHEAT))
    bus = make_bus(fake_transport)
    with pytest.raises(ServoError, match="overheat"):
        bus.write_checked(2, Reg.LOCK, 1)
    assert len(fake_transport.written) == 1


def test_checked_write_refuses_what_cannot_be_read_back(fake_transport: FakeTransport):
    bus = make_bus(fake_transport)
    with pytest.raises(ValueError):
        bus.write_checked(p.BROADCAST_ID, Reg.LOCK, 1)
    with pytest.raises(ValueError):
        bus.write_checked(1, Reg.PRESENT_POSITION, 1)
    assert fake_transport.written == []
