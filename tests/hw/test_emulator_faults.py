"""The virtual arm's seeded bus faults, on the virtual bus without a pty: lost, corrupt and late
replies, an unplugged servo, a gripper squeezing an object, and the options' checks."""

from __future__ import annotations

import time

import pytest

from act_tool.errors import ActToolError
from act_tool.hw.emulator import BusFaults, FaultConfigError, FaultStart
from act_tool.hw.emulator.server import VirtualBus
from act_tool.hw.emulator.servo import OVERLOAD_AFTER_S, VirtualServo
from act_tool.hw.feetech import protocol as p
from act_tool.hw.feetech.protocol import ErrorBit, Reg

IDS = (1, 2, 3, 4, 5, 6)


def make_bus(faults: BusFaults) -> tuple[VirtualBus, list[bytes]]:
    out: list[bytes] = []
    servos = [VirtualServo(i, range_min=1000, range_max=3000) for i in IDS]
    return VirtualBus(servos, out.append, wire_time=False, faults=faults), out


def ping_all(bus: VirtualBus, out: list[bytes], rounds: int) -> list[str]:
    """One ping per servo per round; each answer's fate: ok, lost or corrupt."""
    fates = []
    for _ in range(rounds):
        for i in IDS:
            out.clear()
            bus.feed(p.ping_packet(i))
            if not out:
                fates.append("lost")
            elif out[0] == p.status_packet(i):
                fates.append("ok")
            else:
                assert out[0][:-1] == p.status_packet(i)[:-1]  # only the checksum is wrong
                fates.append("corrupt")
    return fates


def test_lost_and_corrupt_replies_follow_their_rates_and_the_seed():
    faults = BusFaults(seed=7, lost=0.1, corrupt=0.05)
    fates = ping_all(*make_bus(faults), rounds=500)
    assert 0.07 < fates.count("lost") / len(fates) < 0.13
    assert 0.03 < fates.count("corrupt") / len(fates) < 0.07
    assert ping_all(*make_bus(faults), rounds=500) == fates  # reproducible
    other = ping_all(*make_bus(BusFaults(seed=8, lost=0.1, corrupt=0.05)), rounds=500)
    assert other != fates


def test_no_faults_at_zero_rates():
    assert set(ping_all(*make_bus(BusFaults(seed=1)), rounds=50)) == {"ok"}


def test_late_replies_come_late_and_in_order():
    bus, out = make_bus(BusFaults(late=1.0, late_s=0.2))
    t = time.perf_counter()
    bus.feed(p.read_packet(2, Reg.MIN_POSITION_LIMIT) + p.read_packet(3, Reg.MAX_POSITION_LIMIT))
    assert time.perf_counter() - t >= 2 * 0.2  # each answer held the bus for its delay
    assert out == [
        p.status_packet(2, 0, (1000).to_bytes(2, "little")),
        p.status_packet(3, 0, (3000).to_bytes(2, "little")),
    ]


def test_faults_from_connected_wait_for_the_first_tick_with_torque_on():
    bus, out = make_bus(BusFaults(lost=1.0, start=FaultStart.CONNECTED))
    assert ping_all(bus, out, rounds=2) == ["ok"] * 12
    sync_read = p.sync_read_packet(Reg.PRESENT_POSITION, list(IDS))
    out.clear()
    bus.feed(sync_read)  # torque still off: the connect is not over
    assert len(out) == 6
    for i in IDS:
        bus.feed(p.write_packet(i, Reg.TORQUE_ENABLE, 1))
    out.clear()
    bus.feed(sync_read)  # the first tick: every reply is lost from here on
    assert out == []
    assert ping_all(bus, out, rounds=1) == ["lost"] * 6


def test_unplugged_servo_neither_answers_nor_obeys():
    bus, out = make_bus(BusFaults(silent_servo=4, silent_after_s=0.0))
    bus.feed(p.write_packet(4, Reg.ACCELERATION, 9) + p.write_packet(5, Reg.ACCELERATION, 9))
    assert out == [p.status_packet(5)]
    assert bus.servo(4).get(Reg.ACCELERATION) == 0 and bus.servo(5).get(Reg.ACCELERATION) == 9
    out.clear()
    bus.feed(p.sync_read_packet(Reg.ACCELERATION, list(IDS)))
    assert [packet[2] for packet in out] == [1, 2, 3, 5, 6]


def test_servo_goes_silent_only_after_its_time():
    bus, out = make_bus(BusFaults(silent_servo=2, silent_after_s=30.0))
    assert ping_all(bus, out, rounds=1) == ["ok"] * 6
    bus.injector.started_at -= 31.0  # as if the faults had started 31 s ago
    assert ping_all(bus, out, rounds=1) == ["ok", "lost", "ok", "ok", "ok", "ok"]


def test_squeezing_servo_holds_a_position_error_then_reports_overload():
    s = VirtualServo(6, range_min=2000, range_max=3000, position=2800)
    s.obstacle = 2400.0
    s.write(Reg.TORQUE_ENABLE.address, bytes((1,)))
    s.write(Reg.GOAL_POSITION.address, (2100).to_bytes(2, "little"))
    s.advance(0.0)
    s.advance(3.5)  # long enough to have arrived: the object stops it
    assert s.get(Reg.PRESENT_POSITION) == 2400
    assert s.get(Reg.PRESENT_LOAD) == -1000  # pushing down with full force
    assert s.error_bits(3.5) == 0  # not for long enough yet
    s.advance(3.5 + OVERLOAD_AFTER_S)
    assert s.error_bits(3.5 + OVERLOAD_AFTER_S) == ErrorBit.OVERLOAD
    s.write(Reg.GOAL_POSITION.address, (2600).to_bytes(2, "little"))  # opens: no more push
    s.advance(3.6 + OVERLOAD_AFTER_S)
    assert s.error_bits(3.6 + OVERLOAD_AFTER_S) == 0
    assert s.get(Reg.PRESENT_LOAD) == 0


def test_squeeze_fault_places_the_object_on_the_bus():
    bus, out = make_bus(BusFaults(squeeze_servo=6))  # a quarter of 1000..3000: 1500
    bus.feed(p.ping_packet(6))
    assert bus.servo(6).obstacle == 1500.0 and bus.servo(5).obstacle is None
    bus.feed(p.write_packet(6, Reg.TORQUE_ENABLE, 1) + p.write_packet(6, Reg.GOAL_POSITION, 1000))
    time.sleep(0.5)  # the servo moves on the clock: 500 counts at 3400 counts/s and beyond
    bus.feed(p.read_packet(6, Reg.PRESENT_POSITION))  # arrived at the object: pushing from here
    assert out[-1] == p.status_packet(6, 0, (1500).to_bytes(2, "little"))
    time.sleep(OVERLOAD_AFTER_S + 0.05)
    out.clear()
    bus.feed(p.read_packet(6, Reg.PRESENT_POSITION))
    assert out == [p.status_packet(6, ErrorBit.OVERLOAD, (1500).to_bytes(2, "little"))]


@pytest.mark.parametrize(
    ("options", "hint"),
    [
        ({"lost": 1.5}, "fraction of replies from 0 to 1"),
        ({"corrupt": -0.1}, "fraction of replies from 0 to 1"),
        ({"lost": 0.6, "late": 0.6}, "sum of at most 1"),
        ({"late": 0.1, "late_s": 0.0}, "above 0"),
        ({"late_s": 60.0}, "at most 10 s"),
        ({"silent_servo": 7}, "servo ids are 1 to 6"),
        ({"silent_servo": 2, "silent_after_s": -1.0}, "0 or more seconds"),
        ({"squeeze_servo": 0}, "servo ids are 1 to 6"),
        ({"squeeze_servo": 6, "squeeze_at": 5000}, "from 0 to 4095"),
        ({"start": "later"}, "use one of start, connected"),
    ],
)
def test_options_out_of_range_are_usage_errors(options, hint):
    with pytest.raises(FaultConfigError, match=hint) as e:
        BusFaults(**options)
    assert isinstance(e.value, ActToolError)
