"""The bus: transactions, deadlines, resynchronisation, faults, preallocated sync plans."""

from __future__ import annotations

import os
import tty

import numpy as np
import pytest

import act_tool.testing.memory
from act_tool.hw.emulator import EmulatorConfig, Fault, VirtualArm
from act_tool.hw.errors import (
    BusError,
    BusTimeoutError,
    ChecksumError,
    PortBusyError,
    PortDisconnectedError,
    PortNotFoundError,
    ServoError,
)
from act_tool.hw.feetech import FeetechBus, Reg, SerialTransport
from act_tool.hw.feetech import protocol as p

from .conftest import TEST_MARGIN_S, FakeTransport

IDS = (1, 2, 3, 4, 5, 6)


@pytest.fixture
def bus(virtual_arm: VirtualArm):
    with FeetechBus(
        SerialTransport(virtual_arm.port), read_retries=0, timeout_margin_s=TEST_MARGIN_S
    ) as b:
        yield b


# --- against a fake transport: exact bytes, resynchronisation ---------------------------


def test_read_sends_exact_bytes_and_decodes(fake_transport: FakeTransport):
    # Present_Position 0x8005 = -5 in sign-magnitude (bit 15)
    fake_transport.replies.append(p.status_packet(1, 0, bytes((0x05, 0x80))))
    bus = FeetechBus(fake_transport)
    bus.connect()
    assert bus.read(1, Reg.PRESENT_POSITION) == -5
    assert fake_transport.written == [bytes.fromhex("FF FF 01 04 02 38 02 BE")]


def test_resynchronises_on_garbage(fake_transport: FakeTransport):
    good = p.status_packet(1, 0, bytes((0x00, 0x08)))
    # noise, a lone FF, a false header with an impossible id (FF), then the real packet
    fake_transport.replies.append(bytes.fromhex("00 13 FF 42 FF FF FF") + good)
    bus = FeetechBus(fake_transport)
    bus.connect()
    assert bus.read(1, Reg.PRESENT_POSITION) == 2048


def test_false_header_with_bad_checksum_is_skipped(fake_transport: FakeTransport):
    good = p.status_packet(2, 0, bytes((0x10, 0x00)))
    fake_transport.replies.append(bytes.fromhex("FF FF 02 04 00 99 99 00") + good)
    bus = FeetechBus(fake_transport)
    bus.connect()
    assert bus.read(2, Reg.PRESENT_POSITION) == 16


def test_false_header_claiming_a_long_packet_does_not_stall(fake_transport: FakeTransport):
    good = p.status_packet(2, 0, bytes((0x10, 0x00)))
    # FF FF 03 C8 claims a 204-byte packet that never comes: the real answer follows at once
    fake_transport.replies.append(bytes.fromhex("FF FF 03 C8 00") + good)
    bus = FeetechBus(fake_transport, read_retries=0)
    bus.connect()
    assert bus.read(2, Reg.PRESENT_POSITION) == 16


def _answers(ids, value: int = 100) -> bytes:
    return b"".join(p.status_packet(i, 0, value.to_bytes(2, "little")) for i in ids)


def test_corrupted_packet_from_a_servo_that_answered_is_not_blamed(fake_transport: FakeTransport):
    """A bad-checksum header in garbage names servo 2, which then answers properly; servo 3 is
    silent: the error is a timeout naming 3, not a checksum error for 2."""
    corrupt = bytearray(p.status_packet(2, 0, b"\x01\x02"))
    corrupt[-1] ^= 0x5A
    fake_transport.replies.append(bytes(corrupt) + _answers((1, 2)))
    bus = FeetechBus(fake_transport, read_retries=0, timeout_margin_s=0.01)
    bus.connect()
    with pytest.raises(BusTimeoutError) as e:
        bus.sync_read(Reg.PRESENT_POSITION, [1, 2, 3])
    assert e.value.missing_ids == (3,)


def test_corrupted_packet_from_a_stranger_is_not_blamed(fake_transport: FakeTransport):
    corrupt = bytearray(p.status_packet(9, 0, b"\x01\x02"))
    corrupt[-1] ^= 0x5A
    fake_transport.replies.append(bytes(corrupt) + _answers((1,)))
    bus = FeetechBus(fake_transport, read_retries=0, timeout_margin_s=0.01)
    bus.connect()
    with pytest.raises(BusTimeoutError) as e:
        bus.sync_read(Reg.PRESENT_POSITION, [1, 2])
    assert e.value.missing_ids == (2,)


def test_corrupted_packet_of_a_missing_servo_is_a_checksum_error(fake_transport: FakeTransport):
    corrupt = bytearray(p.status_packet(2, 0, b"\x01\x02"))
    corrupt[-1] ^= 0x5A
    fake_transport.replies.append(_answers((1,)) + bytes(corrupt) + _answers((3,)))
    bus = FeetechBus(fake_transport, read_retries=0, timeout_margin_s=0.01)
    bus.connect()
    with pytest.raises(ChecksumError) as e:
        bus.sync_read(Reg.PRESENT_POSITION, [1, 2, 3])
    assert e.value.servo_id == 2


def test_flooded_bus_overflows_with_a_clear_error(fake_transport: FakeTransport):
    fake_transport.replies.append(b"\x00" * 3000)
    bus = FeetechBus(fake_transport, read_retries=0)
    bus.connect()
    with pytest.raises(BusError, match="receive buffer overflow.*flooded"):
        bus.read(1, Reg.PRESENT_POSITION)


def test_sync_read_answers_in_any_order(fake_transport: FakeTransport):
    replies = b"".join(p.status_packet(i, 0, (100 * i).to_bytes(2, "little")) for i in (3, 1, 2))
    fake_transport.replies.append(replies)
    bus = FeetechBus(fake_transport)
    bus.connect()
    assert bus.sync_read(Reg.PRESENT_POSITION, [1, 2, 3]) == {1: 100, 2: 200, 3: 300}


def test_sync_writer_bytes_match_protocol(fake_transport: FakeTransport):
    bus = FeetechBus(fake_transport)
    bus.connect()
    writer = bus.sync_writer(Reg.GOAL_POSITION, IDS)
    values = np.array([2048, 1000, 0, 4095, 17, 3000])
    writer.write(values)
    expected = p.sync_write_packet(Reg.GOAL_POSITION, dict(zip(IDS, values.tolist(), strict=True)))
    assert fake_transport.written[-1] == expected
    writer.write(np.array([1, 2, 3, 4, 5, 6]))  # the preallocated packet is rewritten fully
    assert fake_transport.written[-1] == p.sync_write_packet(
        Reg.GOAL_POSITION, dict(zip(IDS, range(1, 7), strict=True))
    )
    with pytest.raises(ValueError):
        writer.write(np.array([0, 0, 0, 0, 0, 40000]))


def test_deadline_scales_with_bytes(fake_transport: FakeTransport):
    slow = FakeTransport(baudrate=115_200)
    fast = FeetechBus(fake_transport, timeout_margin_s=0.001, return_delay_s=0.0)
    slow_bus = FeetechBus(slow, timeout_margin_s=0.001, return_delay_s=0.0)
    # 14 request bytes + 6 * 8 reply bytes = 62 bytes: 0.62 ms at 1 Mbps, 5.4 ms at 115200
    import time

    for bus, wire_s in ((fast, 62 * 10 / 1_000_000), (slow_bus, 62 * 10 / 115_200)):
        # The deadline is "now" plus wire time plus margin, "now" read inside the call: bracket
        # it by clock readings taken just before and after (no assumption on how long a call
        # takes on a loaded machine); 1e-9 s covers the sum's rounding.
        before = time.perf_counter()
        deadline = bus._deadline(14, 6, 2)
        after = time.perf_counter()
        assert before + wire_s + 0.001 - 1e-9 <= deadline <= after + wire_s + 0.001 + 1e-9


def test_writes_are_never_retried(fake_transport: FakeTransport):
    bus = FeetechBus(fake_transport, read_retries=3, timeout_margin_s=0.01)
    bus.connect()
    with pytest.raises(BusTimeoutError):
        bus.write(1, Reg.GOAL_POSITION, 100)
    assert len(fake_transport.written) == 1
    with pytest.raises(BusTimeoutError):
        bus.read(1, Reg.GOAL_POSITION)
    assert len(fake_transport.written) == 1 + 4  # reads: 1 + 3 retries


# --- against the virtual arm ---------------------------------------------------------------


def test_ping_read_write(bus: FeetechBus, virtual_arm: VirtualArm):
    for i in IDS:
        bus.ping(i)
        bus.check_model(i)
    assert bus.read(1, Reg.MODEL_NUMBER) == 777
    assert bus.read(2, Reg.HOMING_OFFSET) == -1080  # sign bit 11
    bus.write(3, Reg.LOCK, 0)
    bus.write(3, Reg.RETURN_DELAY_TIME, 0)
    assert bus.read(3, Reg.RETURN_DELAY_TIME) == 0
    assert virtual_arm.register(3, Reg.RETURN_DELAY_TIME) == 0


def test_eeprom_write_applies_while_locked(bus: FeetechBus):
    """Lock = 1 only keeps EEPROM writes from being saved across power-off: they apply."""
    bus.write(1, Reg.LOCK, 1)
    bus.write(1, Reg.P_COEFFICIENT, 5)
    assert bus.read(1, Reg.P_COEFFICIENT) == 5
    bus.write(1, Reg.LOCK, 0)
    bus.write(1, Reg.P_COEFFICIENT, 6)
    assert bus.read(1, Reg.P_COEFFICIENT) == 6


def test_sync_read_and_write(bus: FeetechBus, virtual_arm: VirtualArm):
    goals = {i: 2000 + 10 * i for i in IDS}
    bus.sync_write(Reg.GOAL_POSITION, goals)
    assert bus.sync_read(Reg.GOAL_POSITION, IDS) == goals
    reader = bus.sync_reader(Reg.PRESENT_POSITION, IDS)
    out = np.zeros(6, dtype=np.int64)
    reader.read(out)
    assert out.tolist() == [virtual_arm.register(i, Reg.PRESENT_POSITION) for i in IDS]


def test_torque_moves_present_toward_goal(bus: FeetechBus, virtual_arm: VirtualArm):
    start = bus.read(1, Reg.PRESENT_POSITION)
    bus.write(1, Reg.TORQUE_ENABLE, 1)
    bus.write(1, Reg.GOAL_POSITION, start + 300)
    import time

    deadline = time.monotonic() + 5
    while bus.read(1, Reg.PRESENT_POSITION) != start + 300:
        assert time.monotonic() < deadline, "the servo never reached its goal"
        time.sleep(0.01)


def test_silent_servo_times_out_naming_it(bus: FeetechBus, virtual_arm: VirtualArm):
    virtual_arm.inject(4, Fault(silent=True))
    with pytest.raises(BusTimeoutError) as e:
        bus.sync_read(Reg.PRESENT_POSITION, IDS)
    assert e.value.missing_ids == (4,)
    assert "4" in str(e.value)
    with pytest.raises(BusTimeoutError):
        bus.ping(4)
    virtual_arm.clear_faults()
    bus.ping(4)


def test_bad_checksum(bus: FeetechBus, virtual_arm: VirtualArm):
    virtual_arm.inject(2, Fault(bad_checksum=True))
    with pytest.raises(ChecksumError) as e:
        bus.sync_read(Reg.PRESENT_POSITION, IDS)
    assert e.value.servo_id == 2


def test_read_retry_recovers_from_one_bad_packet(virtual_arm: VirtualArm):
    virtual_arm.inject(2, Fault(bad_checksum=True, count=1))
    transport = SerialTransport(virtual_arm.port)
    with FeetechBus(transport, read_retries=1, timeout_margin_s=TEST_MARGIN_S) as bus:
        assert len(bus.sync_read(Reg.PRESENT_POSITION, IDS)) == 6


@pytest.mark.parametrize(
    ("bits", "names"),
    [
        (0x01, ("voltage",)),
        (0x02, ("angle sensor",)),
        (0x04, ("overheat",)),
        (0x08, ("over current",)),
        (0x20, ("overload",)),
        (0x24, ("overheat", "overload")),
    ],
)
def test_servo_error_bits(bus: FeetechBus, virtual_arm: VirtualArm, bits, names):
    virtual_arm.inject(5, Fault(error_bits=bits))
    with pytest.raises(ServoError) as e:
        bus.sync_read(Reg.PRESENT_POSITION, IDS)
    assert (e.value.servo_id, e.value.bits, e.value.names) == (5, bits, names)


def test_tick_reader_records_error_bits(bus: FeetechBus, virtual_arm: VirtualArm):
    """Like LeRobot's sync_read, the per-tick read returns positions despite error bits."""
    reader = bus.sync_reader(Reg.PRESENT_POSITION, IDS)
    out = np.zeros(6, dtype=np.int64)
    virtual_arm.inject(6, Fault(error_bits=p.ErrorBit.OVERLOAD, count=1))
    virtual_arm.inject(2, Fault(error_bits=p.ErrorBit.OVERHEAT | p.ErrorBit.VOLTAGE, count=1))
    reader.read(out)
    assert out.tolist() == [virtual_arm.register(i, Reg.PRESENT_POSITION) for i in IDS]
    assert reader.error_bits == [0, 0x05, 0, 0, 0, 0x20]
    assert reader.any_error == 0x25
    reader.read(out)  # the faults were for one answer each
    assert reader.error_bits == [0] * 6 and reader.any_error == 0


def test_strict_tick_reader_raises(bus: FeetechBus, virtual_arm: VirtualArm):
    reader = bus.sync_reader(Reg.PRESENT_POSITION, IDS, strict=True)
    virtual_arm.inject(4, Fault(error_bits=p.ErrorBit.ANGLE_SENSOR))
    with pytest.raises(ServoError) as e:
        reader.read(np.zeros(6, dtype=np.int64))
    assert (e.value.servo_id, e.value.names) == (4, ("angle sensor",))


def test_write_applies_despite_error_bits_when_asked(bus: FeetechBus, virtual_arm: VirtualArm):
    virtual_arm.inject(3, Fault(error_bits=p.ErrorBit.OVERLOAD))
    with pytest.raises(ServoError):
        bus.write(3, Reg.ACCELERATION, 7)
    bus.write(3, Reg.ACCELERATION, 9, check_errors=False)
    assert virtual_arm.register(3, Reg.ACCELERATION) == 9


def test_ignored_error_bits(virtual_arm: VirtualArm):
    virtual_arm.inject(6, Fault(error_bits=p.ErrorBit.OVERLOAD))
    transport = SerialTransport(virtual_arm.port)
    with FeetechBus(
        transport, timeout_margin_s=TEST_MARGIN_S, ignored_error_bits=p.ErrorBit.OVERLOAD
    ) as bus:
        assert len(bus.sync_read(Reg.PRESENT_POSITION, IDS)) == 6
    virtual_arm.inject(6, Fault(error_bits=p.ErrorBit.OVERLOAD | p.ErrorBit.OVERHEAT))
    with (
        FeetechBus(
            SerialTransport(virtual_arm.port),
            timeout_margin_s=TEST_MARGIN_S,
            ignored_error_bits=p.ErrorBit.OVERLOAD,
        ) as bus,
        pytest.raises(ServoError) as e,
    ):
        bus.sync_read(Reg.PRESENT_POSITION, IDS)
    assert e.value.names == ("overheat",)


def test_slow_reply_times_out(bus: FeetechBus, virtual_arm: VirtualArm):
    virtual_arm.inject(1, Fault(delay_s=TEST_MARGIN_S + 0.5, count=1))
    with pytest.raises(BusTimeoutError) as e:
        bus.read(1, Reg.PRESENT_POSITION)
    assert e.value.missing_ids == (1,)
    # the late answer is discarded, not mistaken for the next one
    import time

    time.sleep(0.6)  # the emulator is single-threaded: let the late answer go out first
    bus.write(1, Reg.LOCK, 0)
    bus.write(1, Reg.RETURN_DELAY_TIME, 7)
    assert bus.read(1, Reg.RETURN_DELAY_TIME) == 7


def test_garbage_before_answers_is_skipped(bus: FeetechBus, virtual_arm: VirtualArm):
    virtual_arm.inject(None, Fault(garbage=bytes.fromhex("FF 00 FF FF FF 13")))
    assert len(bus.sync_read(Reg.PRESENT_POSITION, IDS)) == 6


def test_port_not_found_lists_ports():
    with pytest.raises(PortNotFoundError) as e:
        SerialTransport("/dev/does-not-exist-42").open()
    assert "Serial ports on this machine" in str(e.value)


@pytest.mark.parametrize("use_fd", [True, False])
def test_unplugged_adapter_is_a_disconnect_not_a_timeout(use_fd: bool):
    """A tty that hangs up (its pty master closed, like a USB adapter pulled out) raises
    PortDisconnectedError at once instead of spinning until the deadline."""
    import time

    master, slave = os.openpty()
    tty.setraw(slave)
    transport = SerialTransport(os.ttyname(slave), use_fd=use_fd)
    try:
        transport.open()
        os.close(master)
        buffer = memoryview(bytearray(16))
        with pytest.raises(PortDisconnectedError, match="adapter disconnected"):
            transport.read_into(buffer, time.perf_counter() + 30.0)
        bus = FeetechBus(transport, read_retries=2)
        bus._connected = True  # the port is open: what a bus in use sees when it is unplugged
        with pytest.raises(PortDisconnectedError, match="Check the USB cable"):
            bus.read(1, Reg.PRESENT_POSITION)
    finally:
        transport.close()
        os.close(slave)


def test_port_busy(virtual_arm: VirtualArm):
    first = SerialTransport(virtual_arm.port)
    first.open()
    try:
        with pytest.raises(PortBusyError):
            SerialTransport(virtual_arm.port).open()
    finally:
        first.close()


def test_constructor_does_no_io():
    FeetechBus(SerialTransport("/dev/does-not-exist-42"))  # no error until connect()
    assert not os.path.exists("/dev/does-not-exist-42")


def tick_memory(tick, n: int = 1000) -> tuple[int, int]:
    """(bytes kept over n ticks after warm-up, 99th percentile of one tick's transient peak)."""
    traced = act_tool.testing.memory.tick_memory(tick, n)
    return traced.kept, traced.peak_p99


def test_tick_allocates_nothing_after_warm_up(bus: FeetechBus):
    reader = bus.sync_reader(Reg.PRESENT_POSITION, IDS)
    writer = bus.sync_writer(Reg.GOAL_POSITION, IDS)
    positions = np.zeros(6, dtype=np.int64)

    def tick() -> None:
        reader.read(positions)
        writer.write(positions)

    kept, peak = tick_memory(tick)
    # 1000 ticks: anything allocated per tick and kept would show as >= 1000 bytes
    # (the smallest Python allocation is 16 bytes, so a per-tick leak would keep >= 16 KB; the
    # slack covers one-off allocations by other threads, which tracemalloc also sees)
    assert kept < 4096, f"{kept} bytes kept over 1000 ticks"
    # transient: a few small ints and poll results (about 250 bytes); a packet built per tick,
    # a copied buffer or a slice per read would exceed this
    assert peak < 512, f"a tick allocates up to {peak} bytes at once (p99)"


def test_portable_pyserial_path_matches_fd_path(virtual_arm: VirtualArm):
    """The read path used where there is no poll (Windows COM ports) gives the same answers,
    and a silent servo still times out with its id named."""
    results = []
    for use_fd in (True, False):
        transport = SerialTransport(virtual_arm.port, use_fd=use_fd)
        with FeetechBus(transport, read_retries=0, timeout_margin_s=TEST_MARGIN_S) as b:
            b.ping(3)  # raises unless servo 3 answers
            b.write(1, Reg.GOAL_POSITION, 2100)
            results.append(b.read(1, Reg.GOAL_POSITION))
            results.append(tuple(b.sync_read(Reg.GOAL_POSITION, IDS)))
    assert results[0] == results[2] == 2100
    assert results[1] == results[3]
    virtual_arm.inject(4, Fault(silent=True))
    with (
        FeetechBus(
            SerialTransport(virtual_arm.port, use_fd=False),
            read_retries=0,
            timeout_margin_s=TEST_MARGIN_S,
        ) as b,
        pytest.raises(BusTimeoutError) as e,
    ):
        b.sync_read(Reg.PRESENT_POSITION, IDS)
    assert 4 in e.value.missing_ids


def test_awake_virtual_arm_answers_on_its_own_core():
    """The benchmark's 'awake' virtual arm (busy polling, pinned): same answers, given core."""
    import os

    core = max(os.sched_getaffinity(0))
    config = EmulatorConfig(wire_time=False, busy_poll=True, cpus=frozenset({core}))
    with (
        VirtualArm(config) as virtual,
        FeetechBus(SerialTransport(virtual.port), timeout_margin_s=TEST_MARGIN_S) as b,
    ):
        assert os.sched_getaffinity(virtual.pid) == {core}
        positions = np.zeros(6, dtype=np.int64)
        b.sync_reader(Reg.PRESENT_POSITION, IDS).read(positions)
        assert np.all((positions > 0) & (positions < 4096))
        assert b.read(3, Reg.MODEL_NUMBER) == 777
