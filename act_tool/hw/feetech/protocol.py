"""Feetech STS wire protocol (protocol 0, as on the STS3215): packets, checksum, registers.

Pure functions and tables, no I/O.

Instruction packet: FF FF id len instr params... checksum, len = len(params) + 2.
Status packet:      FF FF id len error data...  checksum, len = len(data) + 2.
checksum = ~(id + len + instr/error + sum(params/data)) & 0xFF. Words are little-endian.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum, IntFlag

HEADER = b"\xff\xff"
BROADCAST_ID = 0xFE
MAX_SERVO_ID = 0xFD
STATUS_OVERHEAD = 6  # FF FF id len error checksum
MAX_PACKET_LENGTH = 250  # the len byte of any packet this project sends or accepts
STS3215_MODEL_NUMBER = 777
RESOLUTION = 4096  # counts per turn


class Instruction(IntEnum):
    PING = 0x01
    READ = 0x02
    WRITE = 0x03
    REG_WRITE = 0x04
    ACTION = 0x05
    SYNC_READ = 0x82
    SYNC_WRITE = 0x83


class ErrorBit(IntFlag):
    """Bits of a status packet's error byte."""

    VOLTAGE = 0x01
    ANGLE_SENSOR = 0x02
    OVERHEAT = 0x04
    OVER_CURRENT = 0x08
    OVERLOAD = 0x20


def error_names(bits: int) -> list[str]:
    """Names of the error bits set in a status error byte (unknown bits as 'bit N')."""
    names = [b.name.lower().replace("_", " ") for b in ErrorBit if bits & b.value]  # type: ignore[union-attr]
    known = sum(b.value for b in ErrorBit)
    names += [f"bit {i}" for i in range(8) if bits & ~known & (1 << i)]
    return names


class Area(Enum):
    EEPROM = "eeprom"  # writes apply at once; kept across power-off only if written with Lock 0
    RAM = "ram"
    READ_ONLY = "read_only"


@dataclass(frozen=True)
class RegisterSpec:
    address: int
    size: int  # bytes: 1 or 2
    area: Area
    sign_bit: int | None = None  # sign-magnitude sign bit, or None for unsigned


class Reg(Enum):
    """The STS3215 control table (the registers LeRobot and this project use)."""

    FIRMWARE_MAJOR = RegisterSpec(0, 1, Area.READ_ONLY)
    FIRMWARE_MINOR = RegisterSpec(1, 1, Area.READ_ONLY)
    MODEL_NUMBER = RegisterSpec(3, 2, Area.READ_ONLY)
    ID = RegisterSpec(5, 1, Area.EEPROM)
    BAUD_RATE = RegisterSpec(6, 1, Area.EEPROM)
    RETURN_DELAY_TIME = RegisterSpec(7, 1, Area.EEPROM)  # units of 2 us
    RESPONSE_STATUS_LEVEL = RegisterSpec(8, 1, Area.EEPROM)
    MIN_POSITION_LIMIT = RegisterSpec(9, 2, Area.EEPROM)
    MAX_POSITION_LIMIT = RegisterSpec(11, 2, Area.EEPROM)
    MAX_TEMPERATURE_LIMIT = RegisterSpec(13, 1, Area.EEPROM)
    MAX_VOLTAGE_LIMIT = RegisterSpec(14, 1, Area.EEPROM)
    MIN_VOLTAGE_LIMIT = RegisterSpec(15, 1, Area.EEPROM)
    MAX_TORQUE_LIMIT = RegisterSpec(16, 2, Area.EEPROM)
    PHASE = RegisterSpec(18, 1, Area.EEPROM)
    UNLOADING_CONDITION = RegisterSpec(19, 1, Area.EEPROM)
    LED_ALARM_CONDITION = RegisterSpec(20, 1, Area.EEPROM)
    P_COEFFICIENT = RegisterSpec(21, 1, Area.EEPROM)
    D_COEFFICIENT = RegisterSpec(22, 1, Area.EEPROM)
    I_COEFFICIENT = RegisterSpec(23, 1, Area.EEPROM)
    MINIMUM_STARTUP_FORCE = RegisterSpec(24, 2, Area.EEPROM)
    CW_DEAD_ZONE = RegisterSpec(26, 1, Area.EEPROM)
    CCW_DEAD_ZONE = RegisterSpec(27, 1, Area.EEPROM)
    PROTECTION_CURRENT = RegisterSpec(28, 2, Area.EEPROM)
    ANGULAR_RESOLUTION = RegisterSpec(30, 1, Area.EEPROM)
    HOMING_OFFSET = RegisterSpec(31, 2, Area.EEPROM, sign_bit=11)
    OPERATING_MODE = RegisterSpec(33, 1, Area.EEPROM)
    PROTECTIVE_TORQUE = RegisterSpec(34, 1, Area.EEPROM)
    PROTECTION_TIME = RegisterSpec(35, 1, Area.EEPROM)
    OVERLOAD_TORQUE = RegisterSpec(36, 1, Area.EEPROM)
    TORQUE_ENABLE = RegisterSpec(40, 1, Area.RAM)
    ACCELERATION = RegisterSpec(41, 1, Area.RAM)
    GOAL_POSITION = RegisterSpec(42, 2, Area.RAM, sign_bit=15)
    GOAL_TIME = RegisterSpec(44, 2, Area.RAM)
    GOAL_VELOCITY = RegisterSpec(46, 2, Area.RAM, sign_bit=15)
    TORQUE_LIMIT = RegisterSpec(48, 2, Area.RAM)
    LOCK = RegisterSpec(55, 1, Area.RAM)
    PRESENT_POSITION = RegisterSpec(56, 2, Area.READ_ONLY, sign_bit=15)
    PRESENT_VELOCITY = RegisterSpec(58, 2, Area.READ_ONLY, sign_bit=15)
    PRESENT_LOAD = RegisterSpec(60, 2, Area.READ_ONLY, sign_bit=10)
    PRESENT_VOLTAGE = RegisterSpec(62, 1, Area.READ_ONLY)
    PRESENT_TEMPERATURE = RegisterSpec(63, 1, Area.READ_ONLY)
    STATUS = RegisterSpec(65, 1, Area.READ_ONLY)
    MOVING = RegisterSpec(66, 1, Area.READ_ONLY)
    PRESENT_CURRENT = RegisterSpec(69, 2, Area.READ_ONLY)
    MAXIMUM_ACCELERATION = RegisterSpec(85, 1, Area.RAM)

    @property
    def address(self) -> int:
        return self.value.address

    @property
    def size(self) -> int:
        return self.value.size

    @property
    def sign_bit(self) -> int | None:
        return self.value.sign_bit

    @property
    def area(self) -> Area:
        return self.value.area


def checksum(data: bytes | bytearray | memoryview) -> int:
    """~(sum of the bytes from id to the last parameter) & 0xFF."""
    return ~sum(data) & 0xFF


def encode_sign_magnitude(value: int, sign_bit: int) -> int:
    """Sign-magnitude: magnitude in the low bits, the sign in `sign_bit`."""
    limit = (1 << sign_bit) - 1
    magnitude = -value if value < 0 else value
    if magnitude > limit:
        raise ValueError(f"{value} does not fit in sign-magnitude with sign bit {sign_bit}")
    return magnitude | (1 << sign_bit) if value < 0 else magnitude


def decode_sign_magnitude(raw: int, sign_bit: int) -> int:
    magnitude = raw & ((1 << sign_bit) - 1)
    return -magnitude if raw >> sign_bit & 1 else magnitude


def encode_value(reg: Reg, value: int) -> int:
    """A register value as the unsigned integer that goes on the wire."""
    if reg.sign_bit is not None:
        return encode_sign_magnitude(value, reg.sign_bit)
    if not 0 <= value < 1 << (8 * reg.size):
        raise ValueError(f"{reg.name} = {value} does not fit in {reg.size} byte(s)")
    return value


def decode_value(reg: Reg, raw: int) -> int:
    return decode_sign_magnitude(raw, reg.sign_bit) if reg.sign_bit is not None else raw


def to_bytes(raw: int, size: int) -> bytes:
    return raw.to_bytes(size, "little")


def instruction_packet(servo_id: int, instruction: Instruction, params: bytes = b"") -> bytes:
    """A complete instruction packet with header, length and checksum."""
    if not 0 <= servo_id <= BROADCAST_ID:
        raise ValueError(f"servo id {servo_id} is outside 0..254")
    length = len(params) + 2
    if length > MAX_PACKET_LENGTH:
        raise ValueError(f"packet too long ({length} > {MAX_PACKET_LENGTH})")
    body = bytes((servo_id, length, instruction)) + params
    return HEADER + body + bytes((checksum(body),))


def status_packet(servo_id: int, error: int = 0, data: bytes = b"") -> bytes:
    """A complete status packet (what a servo sends back)."""
    body = bytes((servo_id, len(data) + 2, error)) + data
    return HEADER + body + bytes((checksum(body),))


def ping_packet(servo_id: int) -> bytes:
    return instruction_packet(servo_id, Instruction.PING)


def read_packet(servo_id: int, reg: Reg) -> bytes:
    return instruction_packet(servo_id, Instruction.READ, bytes((reg.address, reg.size)))


def write_packet(servo_id: int, reg: Reg, value: int) -> bytes:
    data = to_bytes(encode_value(reg, value), reg.size)
    return instruction_packet(servo_id, Instruction.WRITE, bytes((reg.address,)) + data)


def sync_read_packet(reg: Reg, ids: tuple[int, ...] | list[int]) -> bytes:
    return instruction_packet(
        BROADCAST_ID, Instruction.SYNC_READ, bytes((reg.address, reg.size, *ids))
    )


def sync_write_packet(reg: Reg, values: dict[int, int]) -> bytes:
    params = bytearray((reg.address, reg.size))
    for servo_id, value in values.items():
        params.append(servo_id)
        params += to_bytes(encode_value(reg, value), reg.size)
    return instruction_packet(BROADCAST_ID, Instruction.SYNC_WRITE, bytes(params))


def wire_time_s(n_bytes: int, baudrate: int) -> float:
    """Time to send n bytes: 10 bits a byte (start, 8 data, stop)."""
    return n_bytes * 10 / baudrate


def widened(request: bytes | bytearray, extra: int) -> bytes:
    """The same question asked so that each answer carries `extra` more data bytes (ignored):
    a READ or SYNC_READ reads `extra` more bytes, a PING becomes a READ of `extra` bytes from
    address 0. Answers of another length cannot pass for answers to the original request."""
    servo_id, instruction = request[2], request[4]
    if extra < 1:
        raise ValueError("extra must be >= 1")
    if instruction == Instruction.PING:
        return instruction_packet(servo_id, Instruction.READ, bytes((0, extra)))
    if instruction not in (Instruction.READ, Instruction.SYNC_READ):
        raise ValueError(f"only PING, READ and SYNC_READ answers can be widened, not {instruction}")
    params = bytearray(request[5:-1])
    params[1] += extra
    return instruction_packet(servo_id, Instruction(instruction), bytes(params))
