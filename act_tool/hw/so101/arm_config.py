"""How to reach and drive one SO-101 follower arm (SO101Arm's configuration)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from act_tool.hw.errors import CalibrationError
from act_tool.hw.feetech.transport import DEFAULT_BAUDRATE
from act_tool.hw.so101.calibration import find_calibration
from act_tool.hw.so101.joints import N_JOINTS
from act_tool.hw.so101.stall import StallConfig
from act_tool.hw.so101.units import Units


@dataclass(frozen=True)
class ArmConfig:
    """How to reach and drive one SO-101 follower arm."""

    port: str
    robot_id: str | None = None  # finds LeRobot's calibration file for this id
    calibration_path: Path | None = None  # or an explicit file
    calibration_root: Path | None = None  # instead of $HF_LEROBOT_HOME/calibration
    units: Units = Units.DEGREES
    # Largest change of a goal from the present position per write, in units: one number, or
    # one per joint in LeRobot's order (like LeRobot's max_relative_target). None: no limit.
    max_relative_target: float | tuple[float, ...] | None = None
    baudrate: int = DEFAULT_BAUDRATE
    read_retries: int = 2
    timeout_margin_s: float = 0.010
    # Error bits in the per-tick position read are recorded (servo_error_counts) and the run
    # goes on, as in LeRobot; strict: they raise ServoError, which disables torque.
    strict_servo_errors: bool = False
    # Error bits (ErrorBit flags) that never raise; all others raise on connect, in single
    # reads and writes, and in the per-tick read when strict.
    ignored_error_bits: int = 0
    torque_on_connect: bool = True  # False: connect with torque off (dry runs); no writes
    # The per-tick read's share of time (s from its request): a lost answer is asked again only
    # while an attempt fits, and no wait goes past it (None: the bus's retries, unbounded).
    state_budget_s: float | None = None
    # Error bits that stop the run when a servo reports them in more consecutive reads than
    # this (voltage, overheat, angle sensor, over-current; overload is the stall guard's).
    persistent_error_reads: int = 3
    stall: StallConfig | None = field(default_factory=StallConfig)  # None: no stall guard

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", Units.parse(self.units))
        if self.robot_id is None and self.calibration_path is None:
            raise CalibrationError("give a robot id (robot_id) or a calibration file path")
        mrt = self.max_relative_target
        if mrt is not None:
            values = (mrt,) if isinstance(mrt, int | float) else tuple(mrt)
            if len(values) not in (1, N_JOINTS):
                raise ValueError(f"max_relative_target: give 1 or {N_JOINTS} values")
            if not all(np.isfinite(v) and v > 0 for v in values):
                raise ValueError("max_relative_target values must be finite and > 0")
            object.__setattr__(self, "max_relative_target", tuple(float(v) for v in values))
        if self.read_retries < 0 or self.timeout_margin_s <= 0:
            raise ValueError("read_retries must be >= 0 and timeout_margin_s > 0")
        if self.state_budget_s is not None and not self.state_budget_s > 0:
            raise ValueError("state_budget_s must be > 0")
        if self.persistent_error_reads < 0:
            raise ValueError("persistent_error_reads must be >= 0")

    def resolve_calibration_path(self) -> Path:
        if self.calibration_path is not None:
            return Path(self.calibration_path)
        assert self.robot_id is not None
        return find_calibration(self.robot_id, self.calibration_root, self.port)
