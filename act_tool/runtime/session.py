"""`act-tool run`: open the runner, the arm (or the virtual one) and the cameras, run the loop.

    summary = run(RunOptions(engine=Path("act.plan"), port="/dev/ttyACM0", robot_id="arm1",
                             cameras="front=0,handeye=1"))

`port="emulated"` starts the virtual SO-101 (act_tool.hw.emulator) with a matching calibration,
placed in the middle of the policy's training range; with synthetic cameras (the default there)
the whole loop runs on this machine.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from act_tool.errors import ActToolError
from act_tool.runtime import realtime
from act_tool.runtime.loop import LoopConfig, run_loop
from act_tool.runtime.preflight import SPEC_TO_ARM_UNITS
from act_tool.runtime.realtime import DEFAULT_PRIORITY
from act_tool.runtime.runners import RunnerOptions, open_runner
from act_tool.runtime.telemetry import RunSummary
from act_tool.spec import EngineSpec

EMULATED = "emulated"


@dataclass(frozen=True)
class RunOptions:
    engine: Path  # act.plan, act.onnx, or a checkpoint folder
    port: str  # serial port of the arm, or "emulated"
    backend: str | None = None  # default: from the artifact's type
    cameras: str | None = None  # "front=0,handeye=1"; default with an emulated arm: synthetic
    robot_id: str | None = None
    calibration: Path | None = None
    fps: float | None = None  # default: the spec's
    duration_s: float | None = None
    dry_run: bool = False  # no writes, and the arm connects with torque off (it stays limp)
    force: bool = False
    range_clamp: bool = True  # False: goals limited by the arm's calibrated range only
    max_relative_target: float | None = None
    strict_servo_errors: bool = False  # servo error bits stop the run (default: counted)
    log_path: Path | None = None
    n_action_steps: int | None = None  # default: the spec's
    temporal_ensemble_coeff: float | None = None  # default: the spec's
    asynchronous: bool = False
    device: str = "auto"
    cuda_graph: bool = False
    threads: int | None = None
    emulator_wire_time: bool = True
    checkpoint_units: str = "degrees"  # a checkpoint folder has no spec: its joints' units
    rt_priority: int = DEFAULT_PRIORITY  # SCHED_FIFO for the control thread where allowed; 0: off

    def __post_init__(self) -> None:
        if self.port != EMULATED and self.robot_id is None and self.calibration is None:
            raise ActToolError(
                "give the arm's --robot-id (finds LeRobot's calibration file) or --calibration FILE"
            )
        if self.n_action_steps is not None and self.n_action_steps < 1:
            raise ActToolError("--n-action-steps must be >= 1")


def execution_mode(spec: EngineSpec, opts: RunOptions) -> tuple[int, float | None]:
    """(n_action_steps, temporal_ensemble_coeff): the options where given, else the spec's."""
    coeff = opts.temporal_ensemble_coeff
    if coeff is None and opts.n_action_steps is None and not opts.asynchronous:
        coeff = spec.temporal_ensemble_coeff
    if coeff is not None and opts.n_action_steps not in (None, 1):
        raise ActToolError(
            "temporal ensembling executes one action per query: drop --n-action-steps "
            f"{opts.n_action_steps}, or drop the ensemble coefficient"
        )
    steps = opts.n_action_steps or (1 if coeff is not None else spec.n_action_steps)
    if steps > spec.chunk_size:
        raise ActToolError(f"--n-action-steps {steps} exceeds the chunk size {spec.chunk_size}")
    return steps, coeff


def emulated_start_counts(spec: EngineSpec, calibration) -> tuple[float, ...]:
    """Present_Position counts that put the virtual arm in the middle of the training range."""
    from act_tool.hw.so101.units import UnitConverter

    middle = (np.asarray(spec.state_min) + np.asarray(spec.state_max)) / 2
    counts = np.zeros(len(middle), dtype=np.int64)
    UnitConverter(calibration, SPEC_TO_ARM_UNITS[spec.units]).to_counts(middle, counts)
    return tuple(float(c) for c in counts)


def run(opts: RunOptions, log: Callable[[str], None] = print) -> RunSummary:
    from act_tool.hw.cameras import CameraConfig, CameraSet, parse_camera_args
    from act_tool.hw.so101 import ArmConfig, SO101Arm

    runner = open_runner(
        opts.engine,
        opts.backend,
        RunnerOptions(
            device=opts.device,
            threads=opts.threads,
            asynchronous=opts.asynchronous,  # ONNX Runtime: no spinning threads beside the loop
            # ... unless the loop will tick at real-time priority (tried now on this thread,
            # the one that ticks): then they cannot delay it.
            realtime_loop=opts.asynchronous and realtime.permitted(opts.rt_priority),
            cuda_graph=opts.cuda_graph,
            units=opts.checkpoint_units,
            fps=int(opts.fps) if opts.fps else None,
        ),
    )
    spec = runner.spec
    fps = opts.fps or spec.fps
    steps, coeff = execution_mode(spec, opts)
    camera_text = opts.cameras
    if camera_text is None:
        if opts.port != EMULATED:
            names = ",".join(f"{c.name}=<index>" for c in spec.cameras)
            raise ActToolError(f"give the cameras: --cameras {names}")
        camera_text = ",".join(f"{c.name}=synthetic" for c in spec.cameras)
    sources = parse_camera_args(camera_text)
    by_name = {c.name: c for c in spec.cameras}
    camera_configs = {
        name: CameraConfig(
            width=by_name[name].width if name in by_name else 640,
            height=by_name[name].height if name in by_name else 480,
            fps=max(float(fps), 1.0),
        )
        for name in sources
    }
    config = LoopConfig(
        fps=float(fps),
        n_action_steps=steps,
        temporal_ensemble_coeff=coeff,
        asynchronous=opts.asynchronous,
        duration_s=opts.duration_s,
        dry_run=opts.dry_run,
        force=opts.force,
        clamp_to_training_range=opts.range_clamp,
        log_path=opts.log_path,
        rt_priority=opts.rt_priority,
    )
    mode = (
        f"temporal ensembling (coeff {coeff:g})"
        if coeff is not None
        else f"{'asynchronous ' if opts.asynchronous else ''}chunks of {steps} actions"
    )
    with ExitStack() as stack:
        stack.enter_context(runner)
        log(f"loaded {opts.engine} with {runner.description}; executing {mode}")
        port, calibration = opts.port, opts.calibration
        if opts.port == EMULATED:
            port, calibration = _start_emulator(stack, spec, opts.emulator_wire_time, log)
        arm = SO101Arm(
            ArmConfig(
                port=port,
                robot_id=opts.robot_id,
                calibration_path=calibration,
                units=SPEC_TO_ARM_UNITS[spec.units],
                max_relative_target=opts.max_relative_target,
                strict_servo_errors=opts.strict_servo_errors,
                torque_on_connect=not opts.dry_run,  # a dry run leaves the arm limp
            )
        )
        cameras = CameraSet(sources, camera_configs)
        stack.enter_context(cameras)
        stack.enter_context(arm)
        try:
            return run_loop(runner, arm, cameras, config, log)
        finally:
            if report := arm.servo_error_report():
                log(report)
    raise AssertionError("unreachable")


def _start_emulator(
    stack: ExitStack, spec: EngineSpec, wire_time: bool, log: Callable[[str], None]
) -> tuple[str, Path]:
    from act_tool.hw.emulator import (
        DEFAULT_CALIBRATION,
        EmulatorConfig,
        VirtualArm,
        write_calibration_file,
    )

    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="act-emulated-")))
    path = write_calibration_file("emulated", root=folder)
    start = emulated_start_counts(spec, DEFAULT_CALIBRATION)
    virtual = stack.enter_context(
        VirtualArm(EmulatorConfig(wire_time=wire_time, start_positions=start))
    )
    log(f"virtual SO-101 on {virtual.port}")
    return virtual.port, path
