"""The virtual SO-101: six STS3215 servos on a pseudo-terminal, in their own process."""

from act_tool.hw.emulator.process import (
    DEFAULT_CALIBRATION,
    EmulatorConfig,
    VirtualArm,
    write_calibration_file,
)
from act_tool.hw.emulator.servo import Fault

__all__ = ["DEFAULT_CALIBRATION", "EmulatorConfig", "Fault", "VirtualArm", "write_calibration_file"]
