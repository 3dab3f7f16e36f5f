"""The SO-101 arm kinds: the follower on a serial port, and the virtual one (`--port emulated`).

The virtual arm is the servo emulator (act_tool.hw.emulator) on a pseudo-terminal with a matching
calibration file, placed in the middle of the policy's training range; its cameras default to
synthetic ones, so the whole loop runs on this machine. Both are driven by the same SO101Arm,
byte for byte.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import numpy as np

from act_tool.hw.emulator import (
    DEFAULT_CALIBRATION,
    EmulatorConfig,
    VirtualArm,
    write_calibration_file,
)
from act_tool.hw.so101 import ArmConfig, SO101Arm, UnitConverter
from act_tool.hw.so101.calibration import ArmCalibration
from act_tool.hw.so101.stall import StallConfig
from act_tool.runtime.arm_kinds import ArmOptions, ArmRequest, Log, Robot
from act_tool.spec import EngineSpec


def so101_arm(
    options: ArmOptions,
    request: ArmRequest,
    port: str,
    timeout_margin_s: float = ArmConfig.timeout_margin_s,
) -> SO101Arm:
    """An SO101Arm (not connected) in the policy's units, reached by `options` (the request's,
    or those that reach a virtual arm). `timeout_margin_s`: how late an answer may be beyond
    its wire time (a servo bus served by threads of a busy process needs more)."""
    return SO101Arm(
        ArmConfig(
            port=port,
            timeout_margin_s=timeout_margin_s,
            robot_id=options.robot_id,
            calibration_path=options.calibration,
            units=request.spec.units,
            max_relative_target=options.max_relative_target,
            strict_servo_errors=options.strict_servo_errors,
            torque_on_connect=not request.dry_run,  # a dry run leaves the arm limp
            state_budget_s=request.state_budget_s,
            persistent_error_reads=request.persistent_error_reads,
            stall=StallConfig() if options.stall_protection else None,
        )
    )


def open_so101(request: ArmRequest, stack: ExitStack, log: Log) -> Robot:
    return Robot(so101_arm(request.options, request, request.options.port))


def middle_of_training_range(spec: EngineSpec, calibration: ArmCalibration) -> tuple[float, ...]:
    """Present_Position counts that put an arm in the middle of the policy's training range."""
    middle = (np.asarray(spec.state_min) + np.asarray(spec.state_max)) / 2
    counts = np.zeros(len(middle), dtype=np.int64)
    UnitConverter(calibration, spec.units).to_counts(middle, counts)
    return tuple(float(c) for c in counts)


def start_virtual_so101(
    request: ArmRequest, stack: ExitStack, log: Log
) -> tuple[VirtualArm, ArmOptions]:
    """Start the servo emulator (closed with `stack`) with a matching calibration file, the arm
    in the middle of the policy's training range; returns it and the options that reach it."""
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="act-emulated-")))
    calibration = write_calibration_file("emulated", root=folder)
    start = middle_of_training_range(request.spec, DEFAULT_CALIBRATION)
    virtual = stack.enter_context(
        VirtualArm(
            EmulatorConfig(
                wire_time=request.options.wire_time,
                start_positions=start,
                faults=request.options.faults,
            )
        )
    )
    log(f"virtual SO-101 on {virtual.port}")
    options = replace(request.options, port=virtual.port, robot_id=None, calibration=calibration)
    return virtual, options


# How late the virtual arm's answers may be: it is a process of this machine, which a busy CPU
# may leave unscheduled for tens of milliseconds (a real servo answers within its return delay).
EMULATED_MARGIN_S = 0.1


def open_virtual_so101(request: ArmRequest, stack: ExitStack, log: Log) -> Robot:
    virtual, options = start_virtual_so101(request, stack, log)
    return Robot(
        so101_arm(options, request, virtual.port, EMULATED_MARGIN_S),
        default_source="synthetic",
    )
