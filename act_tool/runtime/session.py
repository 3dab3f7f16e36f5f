"""`act-tool run`: open the runner, the arm and the cameras, run the loop.

    summary = run(RunOptions(Path("act.plan"), ArmOptions("/dev/ttyACM0", robot_id="arm1"),
                             cameras="front=0,handeye=1"))

The option groups pass through unchanged: RunnerOptions to the runner, ArmOptions to the arm
kind's factory (act_tool.runtime.arm_kinds: `--port emulated` is the virtual SO-101 with
synthetic cameras, so the whole loop runs on this machine), LoopConfig to the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from act_tool.errors import ActToolError
from act_tool.hw.cameras import CameraConfig, CameraSet, parse_camera_args
from act_tool.runtime import realtime
from act_tool.runtime.arm_guard import torque_guard
from act_tool.runtime.arm_kinds import (
    ArmOptions,
    ArmRequest,
    arm_kind_for,
    check_robot_type,
    open_robot,
)
from act_tool.runtime.interfaces import EpisodeJudge, SessionArm
from act_tool.runtime.loop import run_loop
from act_tool.runtime.loop_config import LoopConfig
from act_tool.runtime.observers import TickObserver
from act_tool.runtime.runners import RunnerOptions, open_runner
from act_tool.runtime.runners.base import Runner
from act_tool.runtime.self_check import run_self_check
from act_tool.runtime.telemetry import RunSummary
from act_tool.spec import EngineSpec

Log = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    engine: Path  # act.plan, act.onnx, or a checkpoint folder
    arm: ArmOptions
    cameras: str | None = None  # "front=0,handeye=1"; default: the arm kind's (if it has one)
    backend: str | None = None  # default: from the artifact's type
    runner: RunnerOptions = field(default_factory=RunnerOptions)
    loop: LoopConfig = field(default_factory=LoopConfig)
    # run without the self-check when the artifact has no check file (act_tool.runtime.self_check)
    skip_self_check: bool = False


def open_cameras(
    text: str | None,
    default_source: str | None,
    spec: EngineSpec,
    fps: float,
    context: Mapping[str, Any] | None = None,
) -> CameraSet:
    """The cameras `--cameras` names (not started), each asked for the policy's frame size; all
    of the policy's cameras from `default_source` when `text` is None."""
    if text is None:
        if default_source is None:
            names = ",".join(f"{c.name}=<index>" for c in spec.cameras)
            raise ActToolError(f"give the cameras: --cameras {names}")
        text = ",".join(f"{c.name}={default_source}" for c in spec.cameras)
    sources = parse_camera_args(text)
    by_name = {c.name: c for c in spec.cameras}
    configs = {
        name: CameraConfig(
            width=by_name[name].width if name in by_name else 640,
            height=by_name[name].height if name in by_name else 480,
            fps=max(fps, 1.0),
        )
        for name in sources
    }
    return CameraSet(sources, configs, context)


@dataclass
class Session:
    """What `open_session` holds open: the runner (entered), the arm (connected, torque on
    unless a dry run), the cameras (started) and the loop's config resolved for the spec."""

    runner: Runner
    arm: SessionArm
    cameras: CameraSet
    loop: LoopConfig
    judge: EpisodeJudge | None = None  # the arm judges its own episodes (the twin)


@contextmanager
def open_session(opts: RunOptions, log: Log = print) -> Iterator[Session]:
    """Open the runner, the arm and the cameras as `run` does; on exit the arm ends with torque
    off whatever happens (torque_guard), and the arm's report is logged."""
    kind = arm_kind_for(opts.arm.port)
    kind.check(opts.arm)
    loop = opts.loop
    runner_options = replace(
        opts.runner,
        asynchronous=loop.asynchronous,  # ONNX Runtime: no spinning threads beside the loop
        # ... unless the loop will tick at real-time priority (tried now on this thread, the
        # one that ticks): then they cannot delay it.
        realtime_loop=loop.asynchronous and realtime.permitted(loop.rt_priority),
    )
    runner = open_runner(opts.engine, opts.backend, runner_options)
    spec = runner.spec
    check_robot_type(kind, spec, log)
    loop = loop.resolve(spec)
    assert loop.fps is not None
    with ExitStack() as stack:
        stack.enter_context(runner)
        log(f"loaded {opts.engine} with {runner.description}; executing {loop.mode()}")
        # before the arm is even connected: a refused engine never sees torque on
        if run_self_check(runner, log, opts.skip_self_check) is not None:
            # its inferences paid the first-run costs: one more measures the latency
            loop = replace(loop, warmup=min(loop.warmup, 1))
        request = ArmRequest(
            opts.arm,
            spec,
            loop.dry_run,
            state_budget_s=loop.state_budget_s(),
            persistent_error_reads=loop.max_missed_state.ticks_at(loop.fps),
        )
        robot = open_robot(kind, request, stack, log)
        cameras = open_cameras(
            opts.cameras, robot.default_source, spec, loop.fps, robot.camera_context
        )
        stack.enter_context(cameras)
        arm = stack.enter_context(torque_guard(robot.arm))
        try:
            yield Session(runner, arm, cameras, loop, robot.judge)
        finally:
            if report := arm.report():
                log(report)


def run(opts: RunOptions, log: Log = print, observers: Sequence[TickObserver] = ()) -> RunSummary:
    """Run the policy on the arm until the duration or Ctrl-C; see the module docstring.
    `observers`: shown every tick (a recorder, a live view: act_tool.runtime.observers)."""
    with open_session(opts, log) as s:
        return run_loop(s.runner, s.arm, s.cameras, s.loop, log, observers=observers)
    raise AssertionError("unreachable")
