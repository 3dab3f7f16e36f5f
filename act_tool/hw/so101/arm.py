"""The SO-101 follower arm: connect, check calibration, configure, read positions, write goals.

Safety rules kept here:
- an arm whose servos do not hold the calibration file's homing offsets and limits is refused;
- goals are checked (no NaN or inf), optionally limited relative to the present position, clamped
  to the calibrated range, and only then converted and written;
- leaving the context manager (normally or by an exception) disables torque; the session
  (act_tool.runtime.arm_guard) makes SIGTERM unwind into it and holds signals back meanwhile;
- every configuration write on connect (each an absolute value, safe to repeat) is read back
  and written again while its acknowledgement or read-back is lost or corrupt or the value read
  differs, so a lossy bus does not fail the connect; a servo that stays silent or keeps another
  value does, named with its joint and register;
- servo error bits in the per-tick read (a gripper squeezing an object reports overload) are
  recorded and reported, as LeRobot ignores them; `strict_servo_errors` stops on them instead;
  voltage, overheat, angle-sensor and over-current errors held over `persistent_error_reads`
  reads stop the run (ServoFaultError);
- the per-tick read gives up within `state_budget_s` (the caller holds the tick); missing answers
  are counted by servo and kind (the bus's `faults`);
- a joint held away from its goal has its goal backed off (stall.py).
"""

from __future__ import annotations

import logging
import time
from math import isfinite
from pathlib import Path

import numpy as np

from act_tool.hw.errors import (
    LEROBOT_CALIBRATE_HINT,
    CalibrationError,
    HardwareError,
    SafetyError,
)
from act_tool.hw.feetech.bus import FeetechBus, SyncReader
from act_tool.hw.feetech.protocol import Reg
from act_tool.hw.feetech.transport import SerialTransport, Transport
from act_tool.hw.so101.arm_config import ArmConfig
from act_tool.hw.so101.calibration import ArmCalibration, load_calibration
from act_tool.hw.so101.joints import JOINT_NAMES, JOINTS, N_JOINTS, SERVO_IDS, Joint
from act_tool.hw.so101.servo_errors import ServoErrorLog
from act_tool.hw.so101.stall import StallGuard
from act_tool.hw.so101.units import UnitConverter

__all__ = ["ArmConfig", "SO101Arm", "ServoFaultError"]

log = logging.getLogger(__name__)

# LeRobot's SO-101 configure step (SOFollower.configure, FeetechMotorsBus.configure_motors)
CONFIGURE_ALL: tuple[tuple[Reg, int], ...] = (
    (Reg.RETURN_DELAY_TIME, 0),
    (Reg.MAXIMUM_ACCELERATION, 254),
    (Reg.ACCELERATION, 254),
    (Reg.OPERATING_MODE, 0),  # position mode
    (Reg.P_COEFFICIENT, 16),
    (Reg.I_COEFFICIENT, 0),
    (Reg.D_COEFFICIENT, 32),
)
CONFIGURE_GRIPPER: tuple[tuple[Reg, int], ...] = (
    (Reg.MAX_TORQUE_LIMIT, 500),  # 50 % of max torque
    (Reg.PROTECTION_CURRENT, 250),  # 50 % of max current
    (Reg.OVERLOAD_TORQUE, 25),  # 25 % torque when overloaded
)
PHASE_ANGLE_FEEDBACK_BIT = 0x10  # cleared so positions stay in 0..4095
WRITE_ATTEMPTS = 3  # per configuration write on connect (see FeetechBus.write_checked)


class ServoFaultError(HardwareError):
    """A servo that kept reporting a fault that does not pass (overheat, voltage, ...); the
    message names it and the fault."""


class SO101Arm:
    """One SO-101 follower. No I/O until `connect()` (or `with SO101Arm(cfg) as arm:`)."""

    joint_names: tuple[str, ...] = JOINT_NAMES

    def __init__(self, config: ArmConfig, transport: Transport | None = None) -> None:
        self.config = config
        self._transport = transport
        self.bus: FeetechBus | None = None
        self.calibration: ArmCalibration | None = None
        self.units = config.units
        self._converter: UnitConverter | None = None
        # The tick's numbers live in plain lists (six values: numpy's cost per call outweighs
        # the arithmetic); `_goal` is the array write_goals returns.
        self._counts = [0] * N_JOINTS
        self._goal_counts = [0] * N_JOINTS
        self._present = [0.0] * N_JOINTS  # float64, as LeRobot's present positions
        self._goal_units = [0.0] * N_JOINTS
        self._goal = np.zeros(N_JOINTS, dtype=np.float64)
        self._have_present = False
        mrt = config.max_relative_target
        self._max_step: tuple[float, ...] | None = (
            None if mrt is None else tuple(np.broadcast_to(np.array(mrt), N_JOINTS).tolist())
        )
        self._reader: SyncReader | None = None
        self._writer = None
        self._errors = ServoErrorLog(JOINT_NAMES, SERVO_IDS)
        self._torque_on = False
        self._give_up_at: float | None = None  # the current read's, from state_budget_s
        self._stall = StallGuard(config.stall, N_JOINTS) if config.stall is not None else None
        self._present_counts = [0] * N_JOINTS  # of the last good read (the stall guard's)
        self._fresh = False  # read since the last write: the stall guard acts on fresh positions

    # --- lifecycle -------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the port, check servos and calibration, configure (torque off), torque on
        (unless `torque_on_connect` is False: then the arm stays limp and refuses writes)."""
        cfg = self.config
        path = cfg.resolve_calibration_path()
        self.calibration = load_calibration(path)
        self._converter = UnitConverter(self.calibration, cfg.units)
        transport = self._transport or SerialTransport(cfg.port, cfg.baudrate)
        self.bus = FeetechBus(
            transport,
            read_retries=cfg.read_retries,
            timeout_margin_s=cfg.timeout_margin_s,
            ignored_error_bits=cfg.ignored_error_bits,
            servo_names=dict(zip(SERVO_IDS, JOINT_NAMES, strict=True)),
        )
        self.bus.connect()
        try:
            self._check_servos()
            self._check_calibration(path)
            self._configure()
            self._reader = self.bus.sync_reader(
                Reg.PRESENT_POSITION, SERVO_IDS, strict=cfg.strict_servo_errors
            )
            self._errors.clear()
            self.bus.faults.clear()  # the run's faults, not the connect's
            self._writer = self.bus.sync_writer(Reg.GOAL_POSITION, SERVO_IDS)
            if cfg.torque_on_connect:
                self._enable_torque()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Disable torque (best effort) and close the port."""
        if self.bus is None:
            return
        try:
            if self.bus.is_connected:
                self.disable_torque()
        finally:
            self.bus.close()
            self.bus = None

    def __enter__(self) -> SO101Arm:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_connected(self) -> bool:
        return self.bus is not None and self.bus.is_connected

    # --- the control-loop API --------------------------------------------------------------

    def read_positions(self, out: np.ndarray) -> np.ndarray:
        """Present positions (float32 [6], the arm's units, LeRobot's joint order) into `out`.
        Outside the tick (preflight, parking): every retry, without the tick's state budget."""
        self.start_read()
        self._give_up_at = None
        return self.finish_read(out)

    def start_read(self) -> None:
        """Send the present-position request and return at once; `finish_read` collects the
        answers. Work done in between overlaps their time on the wire. Any other command to
        the arm meanwhile waits the answers out first and drops them."""
        self._require_bus()
        reader = self._reader
        assert reader is not None
        budget = self.config.state_budget_s
        self._give_up_at = None if budget is None else time.perf_counter() + budget
        reader.send()

    def finish_read(self, out: np.ndarray) -> np.ndarray:
        """The answers to `start_read`: present positions into `out` (as `read_positions`).
        Raises a ReplyMissingError (BusTimeoutError, ChecksumError) when answers stay missing
        after the retries that fit `state_budget_s`, leaving `out` unchanged; ServoFaultError
        when a servo's fault persists (see ArmConfig)."""
        self._require_bus()
        reader = self._reader
        assert reader is not None
        reader.receive(self._counts, self._give_up_at)
        if reader.any_error or self._errors.any_last:
            self._errors.record(reader.error_bits)
            fault = self._errors.persistent(self.config.persistent_error_reads)
            if fault is not None:
                raise ServoFaultError(fault)
        self._present_counts[:] = self._counts
        self._fresh = True
        present = self._converter.to_units(self._counts, self._present)  # type: ignore[union-attr]
        self._have_present = True
        for j in range(N_JOINTS):
            out[j] = present[j]
        return out

    def write_goals(self, goals: np.ndarray) -> np.ndarray:
        """Send goal positions ([6], the arm's units). Returns the goals actually sent (units).

        Refuses NaN/inf; limits each joint to `max_relative_target` from the present position
        last read by `read_positions` (the loop reads every tick; LeRobot reads again here,
        which costs a bus round trip); clamps to the calibrated range; converts to counts;
        one sync-write (no answer, never retried).
        """
        self._require_bus()
        if not self._torque_on:
            raise SafetyError("torque is off: the arm was disabled; reconnect to move it again")
        units = self._goal_units
        for j in range(N_JOINTS):
            g = float(goals[j])
            if not isfinite(g):
                raise SafetyError(f"refusing to send non-finite goals {goals!r}")
            units[j] = g
        step = self._max_step
        if step is not None:
            if not self._have_present:
                self.read_positions(np.zeros(N_JOINTS, dtype=np.float64))
            present = self._present
            for j in range(N_JOINTS):
                lo = present[j] - step[j]
                hi = present[j] + step[j]
                g = units[j]
                if g < lo:
                    g = lo
                if g > hi:
                    g = hi
                units[j] = g
        conv = self._converter
        conv.clamp_units(units, units)  # type: ignore[union-attr]
        counts = self._goal_counts
        conv.to_counts(units, counts)  # type: ignore[union-attr]
        stall = self._stall
        if stall is not None and self._fresh:  # goals streamed without reads are left alone
            self._fresh = False
            stall.apply(counts, self._present_counts, self._errors.last, time.perf_counter())
            if any(stall.stalled):
                conv.to_units(counts, units)  # type: ignore[union-attr]
        self._writer.write(counts)  # type: ignore[union-attr]
        goal = self._goal
        for j in range(N_JOINTS):
            goal[j] = units[j]
        return goal

    def disable_torque(self) -> list[str]:
        """Torque off on every servo: a broadcast sync-write (reaches servos even if one is
        silent), then Torque_Enable 0 and Lock 0 per servo as LeRobot does, best effort.
        Returns the servos that did not acknowledge ("servo 6 (gripper)"), [] when all did."""
        bus = self._require_bus()
        self._torque_on = False
        errors: list[str] = []
        unreached: list[str] = []
        try:
            bus.sync_write(Reg.TORQUE_ENABLE, dict.fromkeys(SERVO_IDS, 0))
        except HardwareError as e:
            errors.append(str(e))
        for servo_id in SERVO_IDS:
            for reg in (Reg.TORQUE_ENABLE, Reg.LOCK):
                try:  # a servo reporting overload or heat still applies the write
                    bus.write(servo_id, reg, 0, check_errors=False)
                except HardwareError as e:
                    errors.append(str(e))
                    if bus.label(servo_id) not in unreached:
                        unreached.append(bus.label(servo_id))
        if errors:
            log.warning("disabling torque: %s", "; ".join(errors))
        return unreached

    def enable_torque(self) -> None:
        """Torque on again after `disable_torque` (goal = present first: the arm holds where
        it is). Refused on an arm connected for a dry run."""
        if not self.config.torque_on_connect:
            raise SafetyError("this arm was connected for a dry run: torque stays off")
        self._enable_torque()

    @property
    def torque_enabled(self) -> bool:
        return self._torque_on

    # --- servo error bits ------------------------------------------------------------------

    @property
    def servo_errors(self) -> dict[str, tuple[str, ...]]:
        """Error bits of the last position read, by joint (joints without errors left out)."""
        return self._errors.latest()

    def servo_error_counts(self) -> dict[str, dict[str, int]]:
        """How many position reads reported each error, by joint, since connect (non-zero)."""
        return self._errors.counts()

    def servo_error_report(self) -> str:
        """One line for a run's summary, or "" when no servo reported an error."""
        return self._errors.report()

    def report(self) -> str:
        """What the session prints after a run: the servos' error bits, the bus's missing
        answers by servo and kind, the stall guard's back-offs ("" when none)."""
        lines = [self.servo_error_report()]
        if self.bus is not None:
            lines.append(self.bus.fault_report())
        if self._stall is not None:
            lines.append(self._stall.report(JOINT_NAMES))
        return "\n".join(line for line in lines if line)

    def fault_count(self) -> int:
        """Answers missing so far (lost or corrupt), for the per-tick log."""
        return self.bus.faults.total if self.bus is not None else 0

    def stall_events(self) -> dict[str, int]:
        """Back-offs by joint (non-zero)."""
        if self._stall is None:
            return {}
        return {JOINT_NAMES[j]: n for j, n in enumerate(self._stall.events) if n}

    # --- connect steps ---------------------------------------------------------------------

    def _require_bus(self) -> FeetechBus:
        if self.bus is None or not self.bus.is_connected:
            raise SafetyError("the arm is not connected: call connect() or use `with arm:`")
        return self.bus

    def _check_servos(self) -> None:
        bus = self._require_bus()
        for servo_id in SERVO_IDS:
            bus.ping(servo_id)
            bus.check_model(servo_id)

    def _check_calibration(self, path: Path) -> None:
        """Like LeRobot's is_calibrated: offsets and limits in the servos match the file."""
        bus = self._require_bus()
        assert self.calibration is not None
        mismatches = []
        for joint, cal in zip(JOINTS, self.calibration.joints, strict=True):
            found = (
                bus.read(cal.id, Reg.HOMING_OFFSET),
                bus.read(cal.id, Reg.MIN_POSITION_LIMIT),
                bus.read(cal.id, Reg.MAX_POSITION_LIMIT),
            )
            expected = (cal.homing_offset, cal.range_min, cal.range_max)
            if found != expected:
                mismatches.append(f"{joint.key}: servo has {found}, file has {expected}")
        if mismatches:
            robot_id = self.config.robot_id or path.stem
            raise CalibrationError(
                f"the arm on {self.config.port} does not match calibration file {path} "
                "(homing_offset, range_min, range_max):\n  "
                + "\n  ".join(mismatches)
                + "\nRefusing to move it. "
                + LEROBOT_CALIBRATE_HINT.format(port=self.config.port, robot_id=robot_id)
            )

    def _set(self, servo_id: int, reg: Reg, value: int) -> None:
        """A configuration write, read back and repeated until it holds (write_checked)."""
        self._require_bus().write_checked(servo_id, reg, value, attempts=WRITE_ATTEMPTS)

    def _configure(self) -> None:
        """LeRobot's configure step, with torque off (torque off made sure first)."""
        bus = self._require_bus()
        self._torque_on = False
        bus.sync_write(Reg.TORQUE_ENABLE, dict.fromkeys(SERVO_IDS, 0))
        for servo_id in SERVO_IDS:
            self._set(servo_id, Reg.TORQUE_ENABLE, 0)
            self._set(servo_id, Reg.LOCK, 0)
        for servo_id in SERVO_IDS:
            for reg, value in CONFIGURE_ALL:
                self._set(servo_id, reg, value)
            phase = bus.read(servo_id, Reg.PHASE)
            if phase & PHASE_ANGLE_FEEDBACK_BIT:
                self._set(servo_id, Reg.PHASE, phase & ~PHASE_ANGLE_FEEDBACK_BIT)
        for reg, value in CONFIGURE_GRIPPER:
            self._set(int(Joint.GRIPPER), reg, value)

    def _enable_torque(self) -> None:
        """Goal = present (no jump), then Torque_Enable 1 and Lock 1 per servo, as LeRobot;
        each write read back (`_set`). Positions are read servo by servo: each read is asked
        again on its own, where a sync-read fails whenever any one of six answers is lost."""
        bus = self._require_bus()
        for servo_id in SERVO_IDS:
            self._set(servo_id, Reg.GOAL_POSITION, bus.read(servo_id, Reg.PRESENT_POSITION))
        for servo_id in SERVO_IDS:
            self._set(servo_id, Reg.TORQUE_ENABLE, 1)
            self._set(servo_id, Reg.LOCK, 1)
        self._torque_on = True
