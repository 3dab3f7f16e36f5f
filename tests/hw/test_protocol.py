"""Byte-level tests of the Feetech protocol, expected bytes worked out by hand."""

from __future__ import annotations

import pytest

from act_tool.hw.feetech import protocol as p
from act_tool.hw.feetech.protocol import Reg


def test_ping_packet():
    # FF FF | id 01 | len 02 | PING 01 | checksum ~(1 + 2 + 1 = 0x04) = 0xFB
    assert p.ping_packet(1) == bytes.fromhex("FF FF 01 02 01 FB")


def test_read_present_position():
    # FF FF 01 | len 04 | READ 02 | addr 0x38 (56) | size 02
    # checksum ~(1 + 4 + 2 + 56 + 2 = 65 = 0x41) = 0xBE
    assert p.read_packet(1, Reg.PRESENT_POSITION) == bytes.fromhex("FF FF 01 04 02 38 02 BE")


def test_write_goal_position():
    # 2048 = 0x0800 little-endian: 00 08; FF FF 01 | len 05 | WRITE 03 | addr 0x2A (42) | 00 08
    # checksum ~(1 + 5 + 3 + 42 + 0 + 8 = 59 = 0x3B) = 0xC4
    assert p.write_packet(1, Reg.GOAL_POSITION, 2048) == bytes.fromhex("FF FF 01 05 03 2A 00 08 C4")


def test_write_negative_goal_is_sign_magnitude_bit_15():
    # -100: magnitude 0x0064 | sign bit 15 = 0x8064 -> 64 80
    # checksum ~(6 + 5 + 3 + 42 + 0x64 + 0x80 = 284 -> 284 & 0xFF = 28 = 0x1C) = 0xE3
    assert p.write_packet(6, Reg.GOAL_POSITION, -100) == bytes.fromhex("FF FF 06 05 03 2A 64 80 E3")


def test_write_homing_offset_sign_bit_11():
    # -1080: magnitude 1080 = 0x438 | sign bit 11 (0x800) = 0x0C38 -> 38 0C; addr 31 = 0x1F
    # checksum ~(2 + 5 + 3 + 31 + 0x38 + 0x0C = 109 = 0x6D) = 0x92
    assert p.write_packet(2, Reg.HOMING_OFFSET, -1080) == bytes.fromhex(
        "FF FF 02 05 03 1F 38 0C 92"
    )


def test_sync_read_six_positions():
    # FF FF FE | len 0A (6 ids + addr + size + 2) | 82 | 38 02 | 01..06
    # checksum ~(254 + 10 + 130 + 56 + 2 + 21 = 473 -> 473 & 0xFF = 0xD9) = 0x26
    assert p.sync_read_packet(Reg.PRESENT_POSITION, [1, 2, 3, 4, 5, 6]) == bytes.fromhex(
        "FF FF FE 0A 82 38 02 01 02 03 04 05 06 26"
    )
    assert len(p.sync_read_packet(Reg.PRESENT_POSITION, range(1, 7))) == 14  # 140 us at 1 Mbps


def test_sync_write_two_goals():
    # {1: 2048 = 00 08, 2: 1000 = 0x03E8 = E8 03}; len = 2 + 2 * 3 + 2 = 10 = 0x0A
    # sum = 254 + 10 + 131 + 42 + 2 + (1 + 0 + 8) + (2 + 0xE8 + 3) = 685 -> 685 & 0xFF = 0xAD
    # checksum ~0xAD = 0x52
    assert p.sync_write_packet(Reg.GOAL_POSITION, {1: 2048, 2: 1000}) == bytes.fromhex(
        "FF FF FE 0A 83 2A 02 01 00 08 02 E8 03 52"
    )
    six = p.sync_write_packet(Reg.GOAL_POSITION, dict.fromkeys(range(1, 7), 2048))
    assert len(six) == 26  # 260 us at 1 Mbps


def test_status_packet():
    # FF FF 01 | len 04 | error 00 | 00 08 ; checksum ~(1 + 4 + 0 + 0 + 8 = 13 = 0x0D) = 0xF2
    assert p.status_packet(1, 0, bytes((0x00, 0x08))) == bytes.fromhex("FF FF 01 04 00 00 08 F2")
    # a PING answer: FF FF 03 02 00, checksum ~(3 + 2 + 0 = 5) = 0xFA
    assert p.status_packet(3) == bytes.fromhex("FF FF 03 02 00 FA")


def test_checksum_wraps_to_a_byte():
    assert p.checksum(bytes((0xFE, 0xFF, 0x03))) == ~(0xFE + 0xFF + 0x03) & 0xFF == 0xFF


@pytest.mark.parametrize(
    ("value", "bit", "raw"),
    [(0, 15, 0), (2048, 15, 0x0800), (-1, 15, 0x8001), (-2047, 11, 0x0FFF), (-1, 10, 0x0401)],
)
def test_sign_magnitude(value, bit, raw):
    assert p.encode_sign_magnitude(value, bit) == raw
    assert p.decode_sign_magnitude(raw, bit) == value


def test_sign_magnitude_overflow():
    with pytest.raises(ValueError):
        p.encode_sign_magnitude(2048, 11)
    with pytest.raises(ValueError):
        p.encode_value(Reg.TORQUE_ENABLE, 256)
    with pytest.raises(ValueError):
        p.encode_value(Reg.MIN_POSITION_LIMIT, -1)


def test_register_table_matches_lerobot():
    pytest.importorskip("lerobot", reason="LeRobot is not installed")
    from lerobot.motors.feetech.tables import STS_SMS_SERIES_CONTROL_TABLE as table
    from lerobot.motors.feetech.tables import STS_SMS_SERIES_ENCODINGS_TABLE as signs

    by_name = {k.upper(): k for k in table}
    by_name["FIRMWARE_MAJOR"] = "Firmware_Major_Version"
    by_name["FIRMWARE_MINOR"] = "Firmware_Minor_Version"
    for reg in Reg:
        key = by_name[reg.name]
        assert table[key] == (reg.address, reg.size), reg
        assert signs.get(key) == reg.sign_bit, reg


def test_error_names():
    assert p.error_names(0) == []
    # 0x25 = 0x20 overload + 0x04 overheat + 0x01 voltage
    assert p.error_names(0x25) == ["voltage", "overheat", "overload"]
    assert p.error_names(0x0A) == ["angle sensor", "over current"]
    assert p.error_names(0x40) == ["bit 6"]


def test_wire_time():
    # sync-read of 6 positions: 14 + 6 * 8 = 62 bytes; sync-write of 6 goals: 26; 88 bytes = 0.88 ms
    assert p.wire_time_s(14 + 6 * 8 + 26, 1_000_000) == pytest.approx(0.00088)


def test_bad_ids_refused():
    with pytest.raises(ValueError):
        p.ping_packet(255)
