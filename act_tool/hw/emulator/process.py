"""The virtual SO-101 in its own process: start it, get its port, inject faults, stop it.

with VirtualArm(EmulatorConfig()) as virtual:
    arm = SO101Arm(ArmConfig(port=virtual.port, calibration_path=...))
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from act_tool.hw.emulator.faults import BusFaults
from act_tool.hw.emulator.servo import Fault, VirtualServo
from act_tool.hw.errors import HardwareError
from act_tool.hw.feetech.protocol import Reg
from act_tool.hw.so101.calibration import (
    ArmCalibration,
    JointCalibration,
    candidate_paths,
    save_calibration,
)

START_TIMEOUT_S = 20.0
REPLY_TIMEOUT_S = 10.0

# A plausible calibrated SO-101 (what lerobot-calibrate writes for a real arm).
DEFAULT_CALIBRATION = ArmCalibration(
    (
        JointCalibration(1, 0, 58, 760, 3230),
        JointCalibration(2, 0, -1080, 840, 3180),
        JointCalibration(3, 0, 1090, 880, 3080),
        JointCalibration(4, 0, -390, 820, 3170),
        JointCalibration(5, 0, 250, 0, 4095),
        JointCalibration(6, 0, 1400, 2020, 3450),
    )
)


@dataclass(frozen=True)
class EmulatorConfig:
    """What the virtual arm's servos hold when it starts, and the faults of its bus."""

    # Offsets and limits written in the servos' EEPROM; None: factory (0, 0..4095).
    calibration: ArmCalibration | None = field(default_factory=lambda: DEFAULT_CALIBRATION)
    wire_time: bool = True  # emulate 1 Mbps wire time and return delays
    start_positions: tuple[float, ...] | None = None  # Present_Position counts; None: mid-range
    # Benchmarks: poll the pty without sleeping, as servo firmware is always awake, and run on
    # these CPU cores only. A sleeping emulator's wake-up (slow on a busy machine) would
    # otherwise count as the client's time. Busy polling costs the core(s) it is given.
    busy_poll: bool = False
    cpus: frozenset[int] | None = None
    faults: BusFaults | None = None  # lost, corrupt, late replies, ... drawn from a seed


def write_calibration_file(
    robot_id: str, calibration: ArmCalibration = DEFAULT_CALIBRATION, root: Path | None = None
) -> Path:
    """Write LeRobot's calibration file for `robot_id` (so_follower/ layout, LeRobot >= 0.5)."""
    return save_calibration(calibration, candidate_paths(robot_id, root)[0])


def _make_servos(config: EmulatorConfig) -> list[VirtualServo]:
    servos = []
    for i in range(6):
        cal = config.calibration.joints[i] if config.calibration else None
        pos = config.start_positions[i] if config.start_positions else None
        if cal is None:
            servos.append(VirtualServo(i + 1, position=pos))
        else:
            servos.append(VirtualServo(i + 1, cal.homing_offset, cal.range_min, cal.range_max, pos))
    return servos


def child_main(fd: int) -> None:
    """The emulator process (`python -m act_tool.hw.emulator._child FD`): the config comes
    pickled over the control connection on `fd`."""
    import signal

    from act_tool.hw.emulator.server import serve

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops us
    conn = Connection(fd)
    config: EmulatorConfig = conn.recv()
    if config.cpus is not None:
        os.sched_setaffinity(0, config.cpus)
    serve(
        _make_servos(config),
        conn,
        config.wire_time,
        busy_poll=config.busy_poll,
        faults=config.faults,
    )


class VirtualArm:
    """A running virtual SO-101. `start()` (or `with`) spawns it; `port` is its /dev/pts/N."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.port: str = ""
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None

    def start(self) -> str:
        """Spawn the emulator process (a fresh interpreter: safe from any caller) and wait for
        its port."""
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "act_tool.hw.emulator._child", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send(self.config)
        if not self._conn.poll(START_TIMEOUT_S):
            self.stop()
            raise HardwareError("the virtual arm did not start")
        _, self.port = self._conn.recv()
        return self.port

    def stop(self) -> None:
        proc, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            try:
                conn.send(("stop",))
                if conn.poll(2.0):
                    conn.recv()
            except (OSError, EOFError):
                pass
            conn.close()
        if proc is not None:
            try:
                proc.wait(3.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(3.0)

    @property
    def pid(self) -> int | None:
        """The emulator process's id while it runs."""
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> VirtualArm:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def is_alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # --- control (tests, demos) ---------------------------------------------------------

    def _call(self, *message: object) -> object:
        if self._conn is None:
            raise HardwareError("the virtual arm is not running")
        self._conn.send(message)
        if not self._conn.poll(REPLY_TIMEOUT_S):
            raise HardwareError("the virtual arm does not answer its control channel")
        return self._conn.recv()

    def inject(self, servo_id: int | None, fault: Fault | None) -> None:
        """Give servo `servo_id` (None: all) a fault; None clears it."""
        self._call("fault", servo_id, fault)

    def clear_faults(self) -> None:
        self._call("fault", None, None)

    def register(self, servo_id: int, reg: Reg) -> int:
        """A register's value as the servo holds it now (decoded)."""
        return self._call("get", servo_id, reg.name)  # type: ignore[return-value]

    def poke(self, servo_id: int, reg: Reg, raw: int) -> None:
        """Set a register's raw bytes directly, bypassing Lock (to build mismatches)."""
        self._call("poke", servo_id, reg.address, raw.to_bytes(reg.size, "little"))

    def injected(self) -> dict:
        """The seeded faults given so far: {"replies": {"lost": n, "corrupt": n, "late": n},
        "started_at": the emulator's perf_counter time they started (None: not yet)}."""
        return self._call("injected")  # type: ignore[return-value]

    def state(self) -> dict[int, dict[str, int]]:
        return self._call("state")  # type: ignore[return-value]
