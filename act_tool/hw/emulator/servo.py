"""One virtual STS3215: register memory (EEPROM, RAM, Lock, Torque_Enable) and its motion.

Present_Position moves toward Goal_Position (clamped to the position limits) with a trapezoidal
profile: speed limited by Goal_Velocity (or a default top speed), acceleration by Acceleration
(100 counts/s^2 a unit; 0 = the fastest). Positions are in the servo's frame:
Present_Position = raw angle - Homing_Offset, kept in 0..4095 (Phase bit 4 cleared, as LeRobot).
Motion is integrated lazily: `advance(now)` catches up on the elapsed time.

As on the STS3215: Torque_Enable does not touch Goal_Position (torque on drives toward the goal
register as it stands, so a careful client writes goal = present first), and Lock (55) decides
only whether EEPROM writes survive a power cycle: 0 saves them, 1 applies them until power-off
(`power_cycle()` emulates it).

An `obstacle` (an object between a gripper's jaws) stops the shaft from going below it: a goal
past it is then held as a position error with high Present_Load, and after OVERLOAD_AFTER_S the
servo's status packets carry the overload error bit (`error_bits`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from act_tool.hw.feetech.protocol import (
    STS3215_MODEL_NUMBER,
    Area,
    ErrorBit,
    Reg,
    decode_value,
    encode_value,
)

TOP_SPEED = 3400.0  # counts/s with Goal_Velocity 0 (about 300 deg/s)
FASTEST_ACCEL = 1.0e6  # counts/s^2 with Acceleration 0
ACCEL_UNIT = 100.0  # counts/s^2 per Acceleration unit
STEP_S = 0.001  # integration step
SNAP_AFTER_S = 3.0  # after this long without a request, a moving servo has arrived
FIRMWARE = (3, 10)
OVERLOAD_AFTER_S = 0.2  # pushing against an object this long reports overload
SQUEEZE_ERROR = 10.0  # counts of position error, held against an object, that count as pushing
LOAD_PER_COUNT = 10  # Present_Load (0.1 % units) per count of that error, up to 100 %

_EEPROM = {r.address + i for r in Reg if r.area is Area.EEPROM for i in range(r.size)}
_READ_ONLY = {r.address + i for r in Reg if r.area is Area.READ_ONLY for i in range(r.size)}
_RAM_START = Reg.TORQUE_ENABLE.address  # EEPROM and its read-only bytes lie below


@dataclass
class Fault:
    """A fault injected into one servo; `count` replies are affected (None: until cleared)."""

    silent: bool = False  # executes instructions but never answers (a broken return line)
    bad_checksum: bool = False  # answers with a corrupted checksum
    error_bits: int = 0  # status error byte (1 voltage, 2 angle, 4 heat, 8 current, 32 load)
    delay_s: float = 0.0  # extra delay before answering
    garbage: bytes = b""  # bytes sent before each answer
    stuck: Reg | None = None  # a register whose writes are ignored (a worn EEPROM cell)
    count: int | None = None


class VirtualServo:
    def __init__(
        self,
        servo_id: int,
        homing_offset: int = 0,
        range_min: int = 0,
        range_max: int = 4095,
        position: float | None = None,
    ) -> None:
        self.mem = bytearray(256)
        self._put(Reg.FIRMWARE_MAJOR, FIRMWARE[0])
        self._put(Reg.FIRMWARE_MINOR, FIRMWARE[1])
        self._put(Reg.MODEL_NUMBER, STS3215_MODEL_NUMBER)
        self._put(Reg.ID, servo_id)
        self._put(Reg.RETURN_DELAY_TIME, 250)  # factory value: 0.5 ms
        self._put(Reg.RESPONSE_STATUS_LEVEL, 1)
        self._put(Reg.MIN_POSITION_LIMIT, range_min)
        self._put(Reg.MAX_POSITION_LIMIT, range_max)
        self._put(Reg.MAX_TEMPERATURE_LIMIT, 70)
        self._put(Reg.MAX_VOLTAGE_LIMIT, 140)
        self._put(Reg.MIN_VOLTAGE_LIMIT, 40)
        self._put(Reg.MAX_TORQUE_LIMIT, 1000)
        self._put(Reg.PHASE, 0x1C)  # bit 4 set from the factory: LeRobot clears it
        self._put(Reg.P_COEFFICIENT, 32)
        self._put(Reg.D_COEFFICIENT, 32)
        self._put(Reg.PROTECTION_CURRENT, 310)
        self._put(Reg.HOMING_OFFSET, homing_offset)
        self._put(Reg.OVERLOAD_TORQUE, 80)
        self.saved = bytearray(self.mem[:_RAM_START])  # the EEPROM as it survives a power cycle
        self.position = float((range_min + range_max) / 2 if position is None else position)
        self.fault: Fault | None = None
        self.obstacle: float | None = None  # counts the shaft cannot pass going down
        self._pushing_since: float | None = None
        self._power_on()

    def _power_on(self) -> None:
        """RAM as the servo starts it: torque off, Lock 1, goal = where it stands."""
        self.mem[_RAM_START:] = bytes(len(self.mem) - _RAM_START)
        self._put(Reg.TORQUE_LIMIT, self.get(Reg.MAX_TORQUE_LIMIT))
        self._put(Reg.LOCK, 1)
        self._put(Reg.PRESENT_VOLTAGE, 120)
        self._put(Reg.PRESENT_TEMPERATURE, 30)
        self.velocity = 0.0
        self._put(Reg.GOAL_POSITION, round(self.position))
        self._last = -1.0
        self.pending: tuple[int, bytes] | None = None  # REG_WRITE, applied by ACTION
        self._refresh()

    def power_cycle(self) -> None:
        """Power off and on: EEPROM bytes written while Lock was 1 are lost, RAM restarts.
        The shaft stays where it is; Present_Position is seen from the saved Homing_Offset."""
        raw_angle = self.position + self.get(Reg.HOMING_OFFSET)
        self.mem[:_RAM_START] = self.saved
        self.position = (raw_angle - self.get(Reg.HOMING_OFFSET)) % 4096
        self._power_on()

    # --- registers -------------------------------------------------------------------------

    @property
    def id(self) -> int:
        return self.mem[Reg.ID.address]

    def get(self, reg: Reg) -> int:
        a = reg.address
        raw = self.mem[a] if reg.size == 1 else self.mem[a] | self.mem[a + 1] << 8
        return decode_value(reg, raw)

    def _put(self, reg: Reg, value: int) -> None:
        raw = encode_value(reg, value)
        self.mem[reg.address : reg.address + reg.size] = raw.to_bytes(reg.size, "little")

    def read(self, address: int, length: int) -> bytes:
        self._refresh()
        return bytes(self.mem[address : address + length])

    def write(self, address: int, data: bytes) -> None:
        """A WRITE as the servo applies it: read-only bytes ignored; EEPROM bytes take effect
        at once and are saved (survive power_cycle) only while Lock is 0."""
        offset_before = self.get(Reg.HOMING_OFFSET)
        save = self.get(Reg.LOCK) == 0
        stuck = self.fault.stuck if self.fault is not None else None
        for i, byte in enumerate(data):
            a = address + i
            if a > 255 or a in _READ_ONLY:
                continue
            if stuck is not None and stuck.address <= a < stuck.address + stuck.size:
                continue
            self.mem[a] = byte
            if save and a in _EEPROM:
                self.saved[a] = byte
        offset = self.get(Reg.HOMING_OFFSET)
        if offset != offset_before:  # the same raw angle, seen from the new offset
            self.position = (self.position + offset_before - offset) % 4096
            self._put(Reg.GOAL_POSITION, round(self.position))
        if not self.get(Reg.TORQUE_ENABLE):
            self.velocity = 0.0
        self._refresh()

    def poke(self, address: int, data: bytes) -> None:
        """Set memory directly (tests): bypasses the read-only rule; EEPROM bytes are not saved."""
        self.mem[address : address + len(data)] = data
        if address <= Reg.PRESENT_POSITION.address < address + len(data):
            self.position = float(self.get(Reg.PRESENT_POSITION))

    # --- motion ----------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Move toward the goal for the time since the last call."""
        self._move(now)
        if self.obstacle is not None:
            pushing = self.squeeze_error() >= SQUEEZE_ERROR
            if not pushing:
                self._pushing_since = None
            elif self._pushing_since is None:
                self._pushing_since = now

    def error_bits(self, now: float) -> int:
        """The status packet's error byte: overload once pushing against the object has lasted
        OVERLOAD_AFTER_S (`advance(now)` first)."""
        since = self._pushing_since
        return (
            int(ErrorBit.OVERLOAD) if since is not None and now - since >= OVERLOAD_AFTER_S else 0
        )

    def squeeze_error(self) -> float:
        """Counts by which the goal lies past the object the shaft rests on (0: not pushing)."""
        o = self.obstacle
        if o is None or not self.get(Reg.TORQUE_ENABLE) or abs(self.position - o) > 0.5:
            return 0.0
        return max(0.0, o - self._limited_goal())

    def _move(self, now: float) -> None:
        if self._last < 0:
            self._last = now
            return
        dt, self._last = now - self._last, now
        if not self.get(Reg.TORQUE_ENABLE) or dt <= 0:
            return
        target = self._target()
        if dt > SNAP_AFTER_S:
            self.position, self.velocity = target, 0.0
            self._refresh()
            return
        speed = float(abs(self.get(Reg.GOAL_VELOCITY))) or TOP_SPEED
        accel = self.get(Reg.ACCELERATION) * ACCEL_UNIT or FASTEST_ACCEL
        pos, vel = self.position, self.velocity
        while dt > 0 and (pos != target or vel != 0.0):
            h = min(STEP_S, dt)
            dt -= h
            dist = target - pos
            # fastest speed from which the servo can still stop at the target
            reach = math.sqrt(2.0 * accel * abs(dist))
            want = math.copysign(min(speed, reach), dist)
            dv = max(-accel * h, min(accel * h, want - vel))
            vel += dv
            step = vel * h
            if abs(step) >= abs(dist) and (dist == 0 or step * dist >= 0):
                pos, vel = target, 0.0
            else:
                pos += step
        self.position, self.velocity = pos, vel
        self._refresh()

    def _target(self) -> float:
        """Where the shaft heads: the limited goal, or the obstacle where it stops it."""
        target = self._limited_goal()
        o = self.obstacle
        if o is not None and self.position >= o - 0.5 and target < o:
            return o
        return target

    def _limited_goal(self) -> float:
        """Goal_Position clamped to the position limits (and to one turn)."""
        lo, hi = self.get(Reg.MIN_POSITION_LIMIT), self.get(Reg.MAX_POSITION_LIMIT)
        target = float(self.get(Reg.GOAL_POSITION))
        if hi > lo:
            target = min(max(target, lo), hi)
        return min(max(target, 0.0), 4095.0)

    def _refresh(self) -> None:
        """Present_* registers from the motion state."""
        self._put(Reg.PRESENT_POSITION, min(max(round(self.position), 0), 4095))
        self._put(Reg.PRESENT_VELOCITY, max(-32767, min(32767, round(self.velocity))))
        moving = self.velocity != 0.0 or abs(self._target() - self.position) > 0.5
        self._put(Reg.MOVING, int(bool(self.get(Reg.TORQUE_ENABLE)) and moving))
        if self.obstacle is not None:
            load = min(1000, round(self.squeeze_error() * LOAD_PER_COUNT))
            self._put(Reg.PRESENT_LOAD, -load)  # pushing toward lower counts
