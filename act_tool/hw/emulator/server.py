"""The virtual bus: six STS3215 servos answering instruction packets on a pseudo-terminal.

Runs in its own process (see process.py). The pty's slave side (/dev/pts/N) is what a client
opens, exactly like a USB adapter. Packets are parsed like a servo does (garbage skipped, bad
checksums ignored). With wire-time emulation the bus is a shared medium at the baud rate:
each request occupies it for 10 bits a byte, each servo answers after Return_Delay_Time * 2 us,
and its answer is written when its last byte would have arrived.

Faults come two ways: `BusFaults` (faults.py), drawn from a seed for every reply, and `Fault`s
injected into one servo over the control connection (tests). A late answer holds the bus, as a
servo's would: the answers to later requests follow it, in order.
"""

from __future__ import annotations

import os
import select
import time
import tty
from collections.abc import Sequence
from multiprocessing.connection import Connection

from act_tool.hw.emulator.faults import ON_TIME, BusFaults, FaultInjector
from act_tool.hw.emulator.servo import Fault, VirtualServo
from act_tool.hw.feetech.protocol import (
    BROADCAST_ID,
    MAX_PACKET_LENGTH,
    Instruction,
    Reg,
    checksum,
    status_packet,
)


class VirtualBus:
    """Packet handling and timing for a set of virtual servos (no pty: testable directly)."""

    def __init__(
        self,
        servos: Sequence[VirtualServo],
        write,
        wire_time: bool,
        baudrate: int = 1_000_000,
        faults: BusFaults | None = None,
    ) -> None:
        self.servos = list(servos)
        self.injector = FaultInjector(faults, self.servos) if faults is not None else None
        self._write = write  # callable(bytes) that puts bytes on the line
        self.wire_time = wire_time
        self.byte_s = 10.0 / baudrate
        self._rx = bytearray()
        self._bus_free_at = 0.0

    @property
    def partial(self) -> int:
        """Bytes of a packet received only in part (waiting for the rest)."""
        return len(self._rx)

    def servo(self, servo_id: int) -> VirtualServo | None:
        for s in self.servos:
            if s.id == servo_id:
                return s
        return None

    def _on_bus(self, now: float) -> list[VirtualServo]:
        """The servos that hear requests now (an unplugged one does not)."""
        injector = self.injector
        if injector is None:
            return self.servos
        return [s for s in self.servos if not injector.unplugged(s, now)]

    # --- input ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the client: handle every complete, valid packet."""
        self._rx += data
        rx = self._rx
        while len(rx) >= 6:
            if rx[0] != 0xFF or rx[1] != 0xFF:
                del rx[0]
                continue
            servo_id, length = rx[2], rx[3]
            if servo_id == 0xFF or length < 2 or length > MAX_PACKET_LENGTH:
                del rx[0]
                continue
            total = length + 4
            if len(rx) < total:
                return
            packet = bytes(rx[:total])
            if checksum(packet[2:-1]) != packet[-1]:
                del rx[0]  # a servo ignores a packet with a bad checksum
                continue
            del rx[:total]
            self._handle(packet)

    def _handle(self, packet: bytes) -> None:
        now = time.perf_counter()
        for s in self.servos:
            s.advance(now)
        request_end = max(now, self._bus_free_at) + len(packet) * self.byte_s
        servo_id, instr, params = packet[2], packet[4], packet[5:-1]
        answers: list[tuple[VirtualServo, bytes]] = []  # (servo, data) in answer order
        try:
            instruction = Instruction(instr)
        except ValueError:
            return
        if self.injector is not None:
            self.injector.observe(instruction, now)
        on_bus = self._on_bus(now)
        by_id = {s.id: s for s in on_bus}
        broadcast = servo_id == BROADCAST_ID
        targets = on_bus if broadcast else [s for s in on_bus if s.id == servo_id]
        if instruction is Instruction.PING:
            answers = [(s, b"") for s in targets]
        elif instruction is Instruction.READ and len(params) == 2 and not broadcast:
            answers = [(s, s.read(params[0], params[1])) for s in targets]
        elif instruction is Instruction.WRITE and len(params) >= 2:
            for s in targets:
                s.write(params[0], params[1:])
            answers = [] if broadcast else [(s, b"") for s in targets if _replies_all(s)]
        elif instruction is Instruction.REG_WRITE and len(params) >= 2:
            for s in targets:
                s.pending = (params[0], bytes(params[1:]))
            answers = [] if broadcast else [(s, b"") for s in targets if _replies_all(s)]
        elif instruction is Instruction.ACTION:
            for s in targets:
                if s.pending is not None:
                    s.write(*s.pending)
                    s.pending = None
            answers = [] if broadcast else [(s, b"") for s in targets if _replies_all(s)]
        elif instruction is Instruction.SYNC_READ and broadcast and len(params) >= 2:
            address, size = params[0], params[1]
            for sid in params[2:]:
                s = by_id.get(sid)
                if s is not None:
                    answers.append((s, s.read(address, size)))
        elif instruction is Instruction.SYNC_WRITE and broadcast and len(params) >= 2:
            address, size = params[0], params[1]
            body = params[2:]
            for k in range(0, len(body) - size, size + 1):
                s = by_id.get(body[k])
                if s is not None:
                    s.write(address, body[k + 1 : k + 1 + size])
        self._bus_free_at = request_end
        self._answer(answers, request_end)

    # --- output --------------------------------------------------------------------------

    def _answer(self, answers: list[tuple[VirtualServo, bytes]], t: float) -> None:
        now = time.perf_counter()
        for servo, data in answers:
            if _silent(servo):
                _take_fault(servo)
                continue
            fate = self.injector.fate() if self.injector is not None else ON_TIME
            if fate.lost:
                continue
            fault = _take_fault(servo)
            error = (fault.error_bits if fault else 0) | servo.error_bits(now)
            out = status_packet(servo.id, error, data)
            if (fault and fault.bad_checksum) or fate.corrupt:
                out = out[:-1] + bytes((out[-1] ^ 0x5A,))
            if fault and fault.garbage:
                out = fault.garbage + out
            delay = (fault.delay_s if fault else 0.0) + fate.late_s
            if self.wire_time:
                start = t + servo.get(Reg.RETURN_DELAY_TIME) * 2e-6 + delay
                t = start + len(out) * self.byte_s
                _wait_until(t)
            elif delay:
                _wait_until(time.perf_counter() + delay)
            self._write(out)
            self._bus_free_at = max(self._bus_free_at, t)


def _silent(servo: VirtualServo) -> bool:
    return servo.fault is not None and servo.fault.silent


def _replies_all(servo: VirtualServo) -> bool:
    """Response_Status_Level 0: answer PING and READ only."""
    return servo.get(Reg.RESPONSE_STATUS_LEVEL) != 0


def _take_fault(servo: VirtualServo) -> Fault | None:
    fault = servo.fault
    if fault is not None and fault.count is not None:
        fault.count -= 1
        if fault.count <= 0:
            servo.fault = None
    return fault


def _wait_until(t: float) -> None:
    """Sleep most of the way, then spin: sub-millisecond precision."""
    remaining = t - time.perf_counter()
    if remaining > 0.002:
        time.sleep(remaining - 0.001)
    while time.perf_counter() < t:
        pass


def open_pty() -> tuple[int, int, str]:
    """A raw-mode pseudo-terminal: (master fd, slave fd, slave path)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    tty.setraw(master)
    return master, slave, os.ttyname(slave)


def serve(
    servos: Sequence[VirtualServo],
    conn: Connection,
    wire_time: bool,
    busy_poll: bool = False,
    faults: BusFaults | None = None,
) -> None:
    """The emulator process's loop: answer the pty, obey the control connection. `busy_poll`:
    never sleep between requests (see EmulatorConfig); `faults`: injected on every reply."""
    master, slave, path = open_pty()
    # Keep the slave open here too, so a client closing it does not end the master (EIO).

    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(master, view) :]

    bus = VirtualBus(servos, write, wire_time, faults=faults)
    conn.send(("ready", path))
    poller = select.poll()
    poller.register(master, select.POLLIN)
    poller.register(conn.fileno(), select.POLLIN)
    timeout_ms = 0 if busy_poll else 1000
    try:
        while True:
            for fd, _ in poller.poll(timeout_ms):
                if fd == master:
                    try:
                        bus.feed(os.read(master, 4096))
                    except OSError:
                        time.sleep(0.01)
                elif not _control(bus, conn):
                    return
    finally:
        os.close(master)
        os.close(slave)


def _control(bus: VirtualBus, conn: Connection) -> bool:
    """One control command; False means stop."""
    try:
        command, *args = conn.recv()
    except (EOFError, OSError):
        return False
    reply: object = None
    if command == "stop":
        conn.send(None)
        return False
    if command == "fault":
        servo_id, fault = args
        for s in bus.servos if servo_id is None else [bus.servo(servo_id)]:
            if s is not None:
                s.fault = fault
    elif command == "get":
        servo_id, reg_name = args
        s = bus.servo(servo_id)
        if s is not None:
            s.advance(time.perf_counter())
        reply = None if s is None else s.get(Reg[reg_name])
    elif command == "poke":
        servo_id, address, data = args
        s = bus.servo(servo_id)
        if s is not None:
            s.poke(address, data)
    elif command == "injected":
        injector = bus.injector
        reply = {
            "replies": dict(injector.injected) if injector is not None else {},
            "started_at": injector.started_at if injector is not None else None,
        }
    elif command == "state":
        now = time.perf_counter()
        reply = {}
        for s in bus.servos:
            s.advance(now)
            reply[s.id] = {r.name: s.get(r) for r in Reg}
    conn.send(reply)
    return True
