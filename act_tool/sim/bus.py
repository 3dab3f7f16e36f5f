"""The twin behind the servo bus: six virtual STS3215s on a pseudo-terminal whose shafts are the
twin's joints.

A client (act-tool's SO101Arm, or LeRobot's SO101Follower) opens the pty as it would a USB
adapter. The servos' register memory, packet handling and protocol are the virtual arm's own
(act_tool.hw.emulator): Goal_Position and Torque_Enable written on the bus become the twin's
goals and torque, through the calibration file (LeRobot's degrees and gripper 0..100, the units
the twin takes); Present_Position and Present_Velocity report the simulated joints the same way.
The bus is served by a thread of this process, so the physics, the cameras' renders and the
servo registers are one state.

Time passes only through `advance(seconds)`: the caller decides the clock. Lockstep evaluation
advances exactly one control period per tick (act_tool.sim.clock); `run --port sim` advances
with the wall clock (act_tool.sim.realtime).
"""

from __future__ import annotations

import os
import select
import threading
import time

import numpy as np

from act_tool.hw.emulator.faults import BusFaults
from act_tool.hw.emulator.server import VirtualBus, open_pty
from act_tool.hw.emulator.servo import VirtualServo
from act_tool.hw.feetech.protocol import Reg
from act_tool.hw.so101.calibration import ArmCalibration
from act_tool.hw.so101.units import MAX_RES, UnitConverter
from act_tool.robot_types import Units
from act_tool.sim.errors import SimError
from act_tool.sim.twin import Twin
from act_tool.sim.units import GRIPPER

QUIET_TIMEOUT_S = 5.0  # a client's bytes not handled by then: the server thread is stuck


class SimServo(VirtualServo):
    """A virtual STS3215 whose shaft is a twin joint: it has no motion model of its own (the
    twin moves it); `place` sets where the physics put it."""

    def advance(self, now: float) -> None:  # the physics moves the shaft, not the clock
        pass

    def place(self, counts: float, velocity: float) -> None:
        self.position = min(max(counts, 0.0), float(MAX_RES))
        self.velocity = velocity if self.get(Reg.TORQUE_ENABLE) else 0.0
        self._refresh()


class TwinBus:
    """Serve `twin`'s arm on a pty as six servos calibrated as `calibration` says."""

    def __init__(
        self,
        twin: Twin,
        calibration: ArmCalibration,
        wire_time: bool = False,
        faults: BusFaults | None = None,
    ) -> None:
        self.twin, self.calibration = twin, calibration
        self.faults = faults  # lost, corrupt, late answers, a servo unplugged (faults.py)
        self.lock = threading.RLock()  # the twin and the registers: one state
        self.servos = [
            SimServo(c.id, c.homing_offset, c.range_min, c.range_max) for c in calibration.joints
        ]
        self._converter = UnitConverter(calibration, Units.DEGREES)
        self._goal_counts = [0] * len(self.servos)
        self._goal_units = np.zeros(len(self.servos))
        self._joints = np.zeros(len(self.servos))
        self._velocities = np.zeros(len(self.servos))
        self._wire_time = wire_time
        self._bus: VirtualBus | None = None
        self._thread: threading.Thread | None = None
        self._master = self._slave = -1
        self._wake_r = self._wake_w = -1
        self._busy = False  # the server thread is handling bytes
        self._failure: BaseException | None = None
        self.port = ""

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> TwinBus:
        if self._thread is not None:
            raise SimError("the twin's bus is already started")
        self._master, self._slave, self.port = open_pty()
        self._wake_r, self._wake_w = os.pipe()
        self._bus = VirtualBus(self.servos, self._write, self._wire_time, faults=self.faults)
        with self.lock:
            self.power_on()
        self._thread = threading.Thread(target=self._serve, name="twin-bus", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=5.0)
            self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = self._wake_r = self._wake_w = -1

    def __enter__(self) -> TwinBus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def power_on(self) -> None:
        """Every servo as at power-on (torque off, goal = where the twin's joint stands), e.g.
        after the twin was reset for a new episode. Call with the lock held."""
        self._publish()
        for servo in self.servos:
            servo._power_on()
        self._publish()
        self._apply_registers()

    # --- the server thread -----------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._master, view) :]

    def _serve(self) -> None:
        poller = select.poll()
        poller.register(self._master, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        try:
            while True:
                ready = {fd for fd, _ in poller.poll(1000)}
                if self._wake_r in ready:
                    return
                if self._master in ready:
                    with self.lock:
                        self._busy = True
                        try:
                            assert self._bus is not None
                            self._bus.feed(os.read(self._master, 4096))
                            self._apply_registers()
                        finally:
                            self._busy = False
        except BaseException as e:  # surfaced by quiesce(): the client then times out clearly
            self._failure = e

    def _apply_registers(self) -> None:
        """Goal_Position and Torque_Enable, as the servos hold them now, into the twin."""
        servos = self.servos
        for j, servo in enumerate(servos):
            self._goal_counts[j] = servo.get(Reg.GOAL_POSITION)
        self._converter.to_units(self._goal_counts, self._goal_units)
        self.twin.set_goals(self._goal_units)
        self.twin.set_torque([bool(s.get(Reg.TORQUE_ENABLE)) for s in servos])

    # --- time ------------------------------------------------------------------------------

    def quiesce(self, timeout_s: float = QUIET_TIMEOUT_S) -> None:
        """Wait until every byte a client has written so far is handled (its goals are in the
        twin): what a lockstep tick wrote takes effect before the physics moves on."""
        deadline = time.perf_counter() + timeout_s
        while True:
            if self._failure is not None:
                raise SimError(f"the twin's bus thread failed: {self._failure!r}")
            if not self._busy and not select.select([self._master], [], [], 0)[0]:
                with self.lock:  # a packet handled between the check and here is complete now
                    assert self._bus is not None
                    if not self._busy and not self._bus.partial:
                        return
            if time.perf_counter() > deadline:
                raise SimError(f"the twin's bus did not handle its input within {timeout_s} s")
            time.sleep(0.0001)

    def advance(self, seconds: float) -> None:
        """The physics `seconds` on (the goals in force), then the servos' registers from it."""
        with self.lock:
            self.twin.step(seconds)
            self._publish()

    def _publish(self) -> None:
        """Present_Position and Present_Velocity from the twin's joints, through the
        calibration (LeRobot's formulas solved for the counts)."""
        twin = self.twin
        joints = twin.joint_positions(self._joints)
        velocities = twin.joint_velocities(self._velocities)
        for j, (servo, cal) in enumerate(zip(self.servos, self.calibration.joints, strict=True)):
            if j == GRIPPER:
                scale = (cal.range_max - cal.range_min) / 100.0
                counts = cal.range_min + joints[j] * scale
            else:
                scale = MAX_RES / 360.0
                counts = (cal.range_min + cal.range_max) / 2 + joints[j] * scale
            servo.place(counts, velocities[j] * scale)
