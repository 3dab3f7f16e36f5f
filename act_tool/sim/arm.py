"""The simulated SO-101 arm kind (`--port sim`): the twin on the wall clock behind the servo bus,
driven by the same SO101Arm as the real arm, byte for byte; its cameras default to the twin's.

The servos hold the virtual arm's default calibration (the file is written for the run), and
the cell is laid out for `ArmOptions.seed`. The arm judges its own episodes (act_tool.sim.judge):
an evaluation session on it lays out seed, seed + 1, ... and takes the twin's verdicts.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from act_tool.errors import ActToolError
from act_tool.hw.emulator import DEFAULT_CALIBRATION, write_calibration_file
from act_tool.hw.so101.joints import JOINT_NAMES
from act_tool.robot_types import SO101_FOLLOWER, Units
from act_tool.runtime.arm_kinds import ArmRequest, Log, Robot
from act_tool.runtime.so101_arms import so101_arm
from act_tool.sim.bus import TwinBus
from act_tool.sim.judge import TwinJudge
from act_tool.sim.realtime import RealtimeTwin
from act_tool.sim.twin import Twin, TwinConfig
from act_tool.spec import CameraSpec, EngineSpec

BUS_MARGIN_S = 0.1


def twin_config_for(request: ArmRequest) -> TwinConfig:
    """A twin that can render the policy's largest camera."""
    cams = request.spec.cameras
    return TwinConfig(
        max_height=max([480, *(c.height for c in cams)]),
        max_width=max([640, *(c.width for c in cams)]),
    )


def twin_spec(
    cameras: tuple[str, ...], height: int, width: int, fps: int, units: str = "degrees"
) -> EngineSpec:
    """The twin's observations (its cameras at one size, the six joints in `units`) described
    as a policy's spec: what the twin's arm and cameras are set up from when no policy's spec
    is at hand (LeRobot's robot and env plugins)."""
    keys = tuple(f"{j}.pos" for j in JOINT_NAMES)
    return EngineSpec(
        artifact="",
        cameras=tuple(CameraSpec(f"observation.images.{c}", height, width) for c in cameras),
        state_names=keys,
        action_names=keys,
        units=Units.parse(units).value,
        fps=fps,
        chunk_size=1,
        n_action_steps=1,
        temporal_ensemble_coeff=None,
        state_min=(-180.0,) * len(keys),
        state_max=(180.0,) * len(keys),
        robot_type=SO101_FOLLOWER.name,
    )


def open_sim_so101(request: ArmRequest, stack: ExitStack, log: Log) -> Robot:
    faults = request.options.faults
    if faults is not None and faults.squeeze_servo is not None:
        raise ActToolError(
            "--squeeze-servo places an object in the servo emulator; the twin's gripper meets "
            "real (simulated) objects: drop --squeeze-servo with --port sim"
        )
    twin = Twin(twin_config_for(request))
    layout = twin.reset(seed=request.options.seed)
    bus = stack.enter_context(TwinBus(twin, DEFAULT_CALIBRATION, request.options.wire_time, faults))
    driver = stack.enter_context(RealtimeTwin(bus, camera_fps=30.0))
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="act-sim-")))
    calibration = write_calibration_file("sim", root=folder)
    log(
        f"simulated SO-101 on {bus.port} (MuJoCo twin, seed {request.options.seed}: cube at "
        f"{layout.cube_xy[0]:.3f}, {layout.cube_xy[1]:.3f} m)"
    )
    options = replace(request.options, port=bus.port, robot_id=None, calibration=calibration)
    # the bus is served by a thread of this busy process (physics, renders, inference)
    arm = so101_arm(options, request, bus.port, BUS_MARGIN_S)
    judge = TwinJudge(driver, request.options.seed, log)
    return Robot(arm, "sim", {"realtime_twin": driver}, judge)
