"""The virtual SO-101: six STS3215 servos on a pseudo-terminal, in their own process."""

from act_tool.hw.emulator.faults import BusFaults, FaultConfigError, FaultStart
from act_tool.hw.emulator.process import (
    DEFAULT_CALIBRATION,
    EmulatorConfig,
    VirtualArm,
    write_calibration_file,
)
from act_tool.hw.emulator.servo import Fault

__all__ = [
    "DEFAULT_CALIBRATION",
    "BusFaults",
    "EmulatorConfig",
    "Fault",
    "FaultConfigError",
    "FaultStart",
    "VirtualArm",
    "write_calibration_file",
]
