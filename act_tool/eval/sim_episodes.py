"""Closed-loop episodes in the digital twin, through the whole deployed stack.

For each seed: the cell is laid out and the arm put at home, the servos power on, the SO-101
driver connects over the pty (configure, calibration check, torque on, as on the real arm), and
the control loop runs the policy on the lockstep clock until the task has been done for a
moment or the episode time is up; torque goes off. The runner, the executor, the Feetech bytes
and the servo registers are the ones that drive the real arm; only the servos' shafts and the
cameras are simulated. Per tick the twin's task monitor counts grasps; the result is judged on
the twin's own state, never on what the policy believes.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from act_tool.eval.results import EpisodeResult
from act_tool.eval.video import EpisodeVideo
from act_tool.hw.camera_sources import CameraError, parse_camera_args
from act_tool.hw.emulator import DEFAULT_CALIBRATION, write_calibration_file
from act_tool.hw.so101 import SO101Arm
from act_tool.runtime.arm_guard import torque_guard
from act_tool.runtime.arm_kinds import ArmOptions, ArmRequest
from act_tool.runtime.interfaces import TaskVerdict
from act_tool.runtime.loop import run_loop
from act_tool.runtime.loop_config import LoopConfig
from act_tool.runtime.runners.base import Runner
from act_tool.runtime.so101_arms import so101_arm
from act_tool.sim.arm import BUS_MARGIN_S
from act_tool.sim.bus import TwinBus
from act_tool.sim.cameras import LockstepCameras, twin_camera
from act_tool.sim.clock import LockstepClock
from act_tool.sim.detectors import TaskMonitor, task_verdict
from act_tool.sim.twin import Twin, TwinConfig
from act_tool.spec import EngineSpec


def camera_sources(spec: EngineSpec, text: str | None) -> dict[str, tuple[str, int, int]]:
    """Policy camera -> (twin camera, height, width) from `--cameras` (default: each policy
    camera from the twin camera of its name); every camera must be a twin camera."""
    text = text or ",".join(f"{c.name}=sim" for c in spec.cameras)
    sources = parse_camera_args(text)
    wanted = {c.name: c for c in spec.cameras}
    if sorted(sources) != sorted(wanted):
        raise CameraError(
            f"the policy's cameras are {', '.join(wanted)}, --cameras names "
            f"{', '.join(sources)}: map each, e.g. --cameras "
            + ",".join(f"{n}=sim:<front|handeye>" for n in wanted)
        )
    out = {}
    for name, source in sources.items():
        if source.kind != "sim":
            raise CameraError(f"Camera {name!r}: with --sim every camera is the twin's (sim).")
        cam = wanted[name]
        out[name] = (twin_camera(name, source), cam.height, cam.width)
    return out


class SimEpisodes:
    """The twin, its servo bus and cameras, set up once for a policy's spec; `episode()` runs
    one seed. A context manager (the bus thread and the renderer are released on exit)."""

    def __init__(self, spec: EngineSpec, cameras: str | None = None) -> None:
        sources = camera_sources(spec, cameras)
        self.spec = spec
        height = max(h for _, h, _ in sources.values())
        width = max(w for _, _, w in sources.values())
        self.twin = Twin(TwinConfig(max_height=max(height, 480), max_width=max(width, 640)))
        self.bus = TwinBus(self.twin, DEFAULT_CALIBRATION)
        self.cameras = LockstepCameras(self.twin, sources)
        self._stack = ExitStack()
        self._calibration: Path | None = None

    def __enter__(self) -> SimEpisodes:
        with ExitStack() as stack:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="act-eval-")))
            self._calibration = write_calibration_file("sim", root=folder)
            stack.enter_context(self.bus)
            stack.callback(self.twin.close)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def begin(
        self, seed: int, settle_s: float = 1.0, on_tick: Callable[[], bool] | None = None
    ) -> Episode:
        """The cell laid out for `seed`, the servos powered on, the episode's first frames and
        snapshot taken; returns the episode's monitor, lockstep clock and arm (not connected:
        enter it, as the loop does, to configure it and switch torque on)."""
        twin, bus = self.twin, self.bus
        twin.reset(seed=seed)
        with bus.lock:
            bus.power_on()
        monitor = TaskMonitor()
        clock = LockstepClock(bus, self.cameras, monitor, settle_s, on_tick=on_tick)
        clock.start()
        # the twin's clock is simulated: no wall-clock budget for the read; no stall guard, as
        # the recorded evaluations of the shipped policies ran without one
        options = ArmOptions(port=bus.port, calibration=self._calibration, stall_protection=False)
        arm = so101_arm(options, ArmRequest(options, self.spec), bus.port, BUS_MARGIN_S)
        return Episode(seed, monitor, clock, arm)

    def verdict(self, episode: Episode) -> TaskVerdict:
        """The task's verdict on the twin's state now."""
        return task_verdict(episode.seed, self.twin.cell_state(), episode.monitor)

    def episode(
        self,
        runner: Runner,
        seed: int,
        loop: LoopConfig,
        settle_s: float = 1.0,
        video: Path | None = None,
        log: Callable[[str], None] = lambda _m: None,
    ) -> EpisodeResult:
        """One closed-loop episode of `runner` (entered) on the layout of `seed`."""
        twin = self.twin
        trajectory: list[list[float]] = []
        recorder = EpisodeVideo(video, self.cameras.frames, runner.spec.fps) if video else None
        joints = np.zeros(6)

        def record() -> bool:
            trajectory.append(twin.joint_positions(joints).tolist())
            if recorder is not None:
                recorder.add()
            return True

        episode = self.begin(seed, settle_s, on_tick=record)
        clock = episode.clock
        started = time.perf_counter()
        try:
            with torque_guard(episode.arm):
                summary = run_loop(runner, episode.arm, self.cameras, loop, log, clock=clock)
        finally:
            if recorder is not None:
                recorder.close()
        return EpisodeResult(
            **asdict(self.verdict(episode)),
            ticks=summary.ticks,
            duration_s=clock.now(),
            wall_s=time.perf_counter() - started,
            sim_wall_s=clock.wall_s,
            stop_reason=summary.stop_reason,
            inferences=summary.inferences,
            trajectory=trajectory,
            video=str(video) if video else None,
        )


@dataclass(frozen=True)
class Episode:
    """One episode's parts (see `SimEpisodes.begin`)."""

    seed: int
    monitor: TaskMonitor
    clock: LockstepClock
    arm: SO101Arm
