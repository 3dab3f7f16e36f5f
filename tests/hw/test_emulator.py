"""The virtual servos and bus without a pty: registers, motion, instructions, wire time."""

from __future__ import annotations

import subprocess
import sys
import time

from act_tool.hw.emulator.server import VirtualBus
from act_tool.hw.emulator.servo import Fault, VirtualServo
from act_tool.hw.feetech import protocol as p
from act_tool.hw.feetech.protocol import Instruction, Reg


def make_bus(wire_time: bool = False, n: int = 6) -> tuple[VirtualBus, list[bytes]]:
    out: list[bytes] = []
    servos = [VirtualServo(i, range_min=1000, range_max=3000) for i in range(1, n + 1)]
    return VirtualBus(servos, out.append, wire_time), out


def test_model_number_and_firmware():
    s = VirtualServo(1)
    assert s.get(Reg.MODEL_NUMBER) == 777
    assert s.read(3, 2) == bytes((0x09, 0x03))  # 777 = 0x0309


def test_lock_decides_what_survives_a_power_cycle():
    """Lock 1: EEPROM writes apply but are lost at power-off; Lock 0: they are saved."""
    s = VirtualServo(1)
    assert s.get(Reg.LOCK) == 1
    s.write(Reg.MIN_POSITION_LIMIT.address, (5).to_bytes(2, "little"))
    assert s.get(Reg.MIN_POSITION_LIMIT) == 5  # applies at once
    s.write(Reg.ACCELERATION.address, bytes((10,)))
    s.power_cycle()
    assert s.get(Reg.MIN_POSITION_LIMIT) == 0  # not saved
    assert s.get(Reg.ACCELERATION) == 0 and s.get(Reg.LOCK) == 1  # RAM restarts
    s.write(Reg.LOCK.address, bytes((0,)))
    s.write(Reg.MIN_POSITION_LIMIT.address, (7).to_bytes(2, "little"))
    s.power_cycle()
    assert s.get(Reg.MIN_POSITION_LIMIT) == 7  # saved
    s.write(Reg.PRESENT_POSITION.address, (7).to_bytes(2, "little"))  # read-only: ignored
    assert s.get(Reg.PRESENT_POSITION) == 2048


def test_power_cycle_keeps_the_shaft_and_the_saved_offset():
    s = VirtualServo(1, position=2000)
    s.write(Reg.HOMING_OFFSET.address, p.to_bytes(p.encode_value(Reg.HOMING_OFFSET, -100), 2))
    assert s.get(Reg.PRESENT_POSITION) == 2100  # Lock 1: applied, not saved
    s.power_cycle()
    assert s.get(Reg.HOMING_OFFSET) == 0
    assert s.get(Reg.PRESENT_POSITION) == 2000
    assert s.get(Reg.GOAL_POSITION) == 2000 and s.get(Reg.TORQUE_ENABLE) == 0


def test_torque_on_keeps_the_stored_goal():
    """As on an STS3215, enabling torque does not reset Goal_Position: the servo heads for the
    goal it holds (hence the arm writes goal = present before torque on)."""
    s = VirtualServo(1, range_min=1000, range_max=3000, position=2000)
    s.advance(0.0)
    s.write(Reg.GOAL_POSITION.address, (2600).to_bytes(2, "little"))  # torque off: no motion
    s.advance(0.5)
    assert s.get(Reg.PRESENT_POSITION) == 2000
    s.write(Reg.TORQUE_ENABLE.address, bytes((1,)))
    assert s.get(Reg.GOAL_POSITION) == 2600
    s.advance(1.0)
    s.advance(2.0)
    assert s.get(Reg.PRESENT_POSITION) == 2600


def test_homing_offset_shifts_present_position():
    s = VirtualServo(1, position=2000)
    s.write(Reg.LOCK.address, bytes((0,)))
    s.write(Reg.HOMING_OFFSET.address, p.to_bytes(p.encode_value(Reg.HOMING_OFFSET, -100), 2))
    assert s.get(Reg.PRESENT_POSITION) == 2100  # Present = raw - offset


def test_motion_respects_speed_limit_and_limits():
    s = VirtualServo(1, range_min=1000, range_max=3000, position=2000)
    s.advance(0.0)
    s.write(Reg.TORQUE_ENABLE.address, bytes((1,)))
    s.write(Reg.GOAL_VELOCITY.address, (1000).to_bytes(2, "little"))
    s.write(Reg.ACCELERATION.address, bytes((254,)))
    s.write(Reg.GOAL_POSITION.address, (3500).to_bytes(2, "little"))  # beyond the max limit
    s.advance(0.5)
    # at most 1000 counts/s for 0.5 s
    assert 2000 < s.get(Reg.PRESENT_POSITION) <= 2500
    assert s.get(Reg.MOVING) == 1
    s.advance(3.0)
    assert s.get(Reg.PRESENT_POSITION) == 3000  # clamped to Max_Position_Limit
    assert s.get(Reg.MOVING) == 0


def test_no_motion_without_torque():
    s = VirtualServo(1, position=2000)
    s.advance(0.0)
    s.write(Reg.GOAL_POSITION.address, (2500).to_bytes(2, "little"))
    s.advance(1.0)
    assert s.get(Reg.PRESENT_POSITION) == 2000


def test_ping_read_write_answers():
    bus, out = make_bus()
    bus.feed(p.ping_packet(2))
    assert out.pop() == p.status_packet(2)
    bus.feed(p.read_packet(1, Reg.MODEL_NUMBER))
    assert out.pop() == p.status_packet(1, 0, bytes((0x09, 0x03)))
    bus.feed(p.write_packet(3, Reg.ACCELERATION, 9))
    assert out.pop() == p.status_packet(3)
    assert bus.servo(3).get(Reg.ACCELERATION) == 9
    bus.feed(p.ping_packet(9))  # nobody there
    assert out == []


def test_sync_read_and_sync_write():
    bus, out = make_bus()
    bus.feed(p.sync_write_packet(Reg.GOAL_POSITION, {1: 1500, 4: 2500}))
    assert out == []  # no answer to a sync-write
    bus.feed(p.sync_read_packet(Reg.GOAL_POSITION, [4, 1]))
    assert out == [
        p.status_packet(4, 0, (2500).to_bytes(2, "little")),
        p.status_packet(1, 0, (1500).to_bytes(2, "little")),
    ]


def test_reg_write_then_action():
    bus, out = make_bus()
    bus.feed(p.instruction_packet(2, Instruction.REG_WRITE, bytes((41, 77))))
    assert out.pop() == p.status_packet(2)
    assert bus.servo(2).get(Reg.ACCELERATION) == 0
    bus.feed(p.instruction_packet(p.BROADCAST_ID, Instruction.ACTION))
    assert bus.servo(2).get(Reg.ACCELERATION) == 77
    assert out == []


def test_garbage_and_bad_checksums_are_ignored():
    bus, out = make_bus()
    bad = bytearray(p.ping_packet(1))
    bad[-1] ^= 0xFF
    bus.feed(b"\x00\xff\x13" + bytes(bad) + p.ping_packet(1)[:3])
    assert out == []
    bus.feed(p.ping_packet(1)[3:])
    assert out == [p.status_packet(1)]


def test_faults_shape_answers():
    bus, out = make_bus()
    bus.servo(1).fault = Fault(error_bits=0x04, garbage=b"\x00", count=1)
    bus.feed(p.ping_packet(1))
    assert out.pop() == b"\x00" + p.status_packet(1, 0x04)
    bus.feed(p.ping_packet(1))  # count exhausted
    assert out.pop() == p.status_packet(1)
    bus.servo(1).fault = Fault(bad_checksum=True)
    bus.feed(p.ping_packet(1))
    assert out.pop()[-1] != p.status_packet(1)[-1]
    bus.servo(1).fault = Fault(silent=True)
    bus.feed(p.write_packet(1, Reg.ACCELERATION, 5))
    assert out == [] and bus.servo(1).get(Reg.ACCELERATION) == 5  # executes, never answers


def test_wire_time_is_emulated():
    bus, out = make_bus(wire_time=True)
    for s in bus.servos:
        s.write(Reg.LOCK.address, bytes((0,)))
        s.write(Reg.RETURN_DELAY_TIME.address, bytes((0,)))
    t = time.perf_counter()
    bus.feed(p.sync_read_packet(Reg.PRESENT_POSITION, [1, 2, 3, 4, 5, 6]))
    elapsed = time.perf_counter() - t
    # 14 + 6 * 8 bytes at 10 us: at least 0.62 ms (no upper bound: machines are busy)
    assert elapsed >= 0.00062 - 1e-5
    assert len(out) == 6


def test_emulate_command(tmp_path):
    """`act-tool emulate` writes the calibration file, prints the port, stops on Ctrl-C."""
    import signal

    from act_tool.hw.feetech import FeetechBus, SerialTransport

    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            # Ctrl-C as in a terminal: a test runner started in the background (CI) hands its
            # children SIGINT ignored, and Python then never raises KeyboardInterrupt.
            "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from act_tool.cli import app; app()",
            "emulate",
            "--robot-id",
            "cli_arm",
            "--calibration-dir",
            str(tmp_path),
            "--no-wire-time",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert (tmp_path / "cli_arm.json").is_file()
        port = lines[1].split(" on ")[1].split()[0]
        assert port.startswith("/dev/pts/")
        with FeetechBus(SerialTransport(port), timeout_margin_s=0.25) as bus:
            assert bus.model_number(6) == 777
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
