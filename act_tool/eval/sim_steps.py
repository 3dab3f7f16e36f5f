"""Lockstep episodes in the digital twin, one tick at a time, driven from outside: what a
gym-style evaluator (LeRobot's `lerobot-eval`, through the env plugin) needs.

Each tick is the one `act-tool eval --sim` runs (act_tool.eval.sim_episodes): the observation is
the joints read over the servo bus by the SO-101 driver (Present_Position through the
calibration, as on the real arm) and the frames rendered at the physics state they describe;
the action is written as the servos' goals over the same bus, the physics advances exactly one
control period on the twin's clock, the cameras render, and the task monitor judges. The
episode ends when the task has been done for `settle_s` (terminated) or after
`round(episode_time_s * fps)` ticks (truncated); its figures (success, grasp attempts,
successful grasps, steps to success) are `act-tool eval --sim`'s, from the same detectors. So on
a seed, a policy that acts as `act-tool eval --sim` runs it (LeRobot's `select_action`, the goals
not clamped: `--no-range-clamp`) gives the same episode here, tick for tick.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from act_tool.errors import ActToolError
from act_tool.eval.results import EpisodeResult
from act_tool.eval.sim_episodes import Episode, SimEpisodes
from act_tool.hw.so101.joints import JOINT_NAMES
from act_tool.robot_types import Units
from act_tool.sim.arm import twin_spec
from act_tool.sim.twin import CAMERAS
from act_tool.spec import EngineSpec


@dataclass(frozen=True)
class StepperConfig:
    """The twin's observations and episodes; defaults: `act-tool dataset sim`'s frames (both
    cameras, 96x128), 30 Hz, `act-tool eval --sim`'s 12 s episodes and 1 s settle."""

    cameras: tuple[str, ...] = CAMERAS
    height: int = 96
    width: int = 128
    fps: int = 30
    units: str = Units.DEGREES.value
    episode_time_s: float = 12.0
    settle_s: float = 1.0

    def __post_init__(self) -> None:
        unknown = [c for c in self.cameras if c not in CAMERAS]
        if unknown or not self.cameras:
            raise ActToolError(
                f"cameras {', '.join(unknown) or '(none)'}: the twin has {', '.join(CAMERAS)}; "
                f"name one or both, e.g. {','.join(CAMERAS)}"
            )
        if not (16 <= self.height <= 1080 and 16 <= self.width <= 1920):
            raise ActToolError(
                f"camera size {self.height}x{self.width}: choose height 16..1080 and width "
                "16..1920 (the policy's image size, e.g. 96x128)"
            )
        if not 1 <= self.fps <= 200:
            raise ActToolError(f"fps {self.fps}: choose 1..200 (the policy's fps, e.g. 30)")
        Units.parse(self.units)  # an error naming the choices
        if self.episode_time_s <= 0 or self.settle_s < 0:
            raise ActToolError(
                f"episode time {self.episode_time_s} s and settle time {self.settle_s} s: the "
                "episode time must be positive and the settle time not negative"
            )

    @property
    def max_ticks(self) -> int:
        """A whole number of ticks, as `act-tool eval --sim` counts them."""
        return max(1, round(self.episode_time_s * self.fps))

    def spec(self) -> EngineSpec:
        """The twin's observations described as a policy's spec (what SimEpisodes sets up)."""
        return twin_spec(self.cameras, self.height, self.width, self.fps, self.units)


@dataclass
class Observation:
    frames: dict[str, np.ndarray]  # camera -> (H, W, 3) uint8 RGB, owned by the caller
    state: np.ndarray  # (6,) float32, LeRobot units


class SimStepper:
    """The twin's episodes, one tick per `step`; see the module docstring. Close it (or use it
    as a context manager): the servos' torque goes off and the bus and renderer are freed."""

    def __init__(self, config: StepperConfig | None = None) -> None:
        self.config = config or StepperConfig()
        self.sim = SimEpisodes(self.config.spec()).__enter__()
        self.period = 1.0 / self.config.fps
        self.episode: Episode | None = None
        self.ticks = 0
        self.started = 0.0
        self._deadline = 0.0
        self._ended = ""
        self._connected = False
        self.trajectory: list[
            list[float]
        ] = []  # the joints after each tick, as eval --sim records them
        self._joints = np.zeros(len(JOINT_NAMES))

    def _record(self) -> bool:
        self.trajectory.append(self.twin.joint_positions(self._joints).tolist())
        return True

    @property
    def twin(self):
        return self.sim.twin

    def reset(self, seed: int) -> Observation:
        """A new episode on the layout of `seed`: the arm at home, the driver connected (servos
        configured, torque on), the first observation."""
        self._release()
        self.trajectory = []
        self.episode = self.sim.begin(seed, self.config.settle_s, on_tick=self._record)
        self.episode.arm.__enter__()
        self._connected = True
        self.ticks, self._deadline, self._ended = 0, 0.0, ""
        self.started = time.perf_counter()
        return self.observe()

    def observe(self) -> Observation:
        episode = self._current()
        state = np.zeros(len(JOINT_NAMES), dtype=np.float32)
        episode.arm.read_positions(state)
        frames = {
            name: np.ascontiguousarray(frame[0][..., ::-1])  # BGR -> RGB, as LeRobot's cameras
            for name, frame in self.sim.cameras.frames.items()
        }
        return Observation(frames, state)

    def step(self, action: np.ndarray) -> tuple[Observation, bool, bool]:
        """The goals `action` (LeRobot units) written, one period of physics, the next
        observation; returns (observation, terminated: the task is done and held, truncated:
        the episode's time is up)."""
        episode = self._current()
        if self._ended:
            raise ActToolError(f"the episode has ended ({self._ended}): reset it first")
        goals = np.asarray(action, dtype=np.float32).reshape(-1)
        if goals.shape != (len(JOINT_NAMES),):
            raise ActToolError(
                f"an action of {goals.size} values: the twin's arm takes {len(JOINT_NAMES)} "
                f"goals ({', '.join(JOINT_NAMES)})"
            )
        episode.arm.write_goals(goals)
        self.ticks += 1
        self._deadline += self.period  # summed as the loop sums its deadlines
        going = episode.clock.wait_until(self._deadline)
        terminated = not going
        truncated = going and self.ticks >= self.config.max_ticks
        if terminated:
            self._ended = episode.clock.stop_reason
        elif truncated:
            self._ended = "tick limit reached"
        return self.observe(), terminated, truncated

    def task_done(self) -> bool:
        """The cube is in the bowl, released (this tick's reward)."""
        from act_tool.sim.detectors import episode_success

        return episode_success(self.twin.cell_state())

    def result(self) -> EpisodeResult:
        """The episode's figures so far, as `act-tool eval --sim` reports them."""
        episode = self._current()
        return EpisodeResult(
            **asdict(self.sim.verdict(episode)),
            ticks=self.ticks,
            duration_s=episode.clock.now(),
            wall_s=time.perf_counter() - self.started,
            sim_wall_s=episode.clock.wall_s,
            stop_reason=self._ended,
            trajectory=list(self.trajectory),
        )

    def torque(self) -> tuple[bool, ...]:
        """The servos' torque as the twin has it (all False once released)."""
        return self.twin.torque()

    def _current(self) -> Episode:
        if self.episode is None:
            raise ActToolError("no episode yet: call reset(seed) first")
        return self.episode

    def _release(self) -> None:
        """Torque off and the driver's port closed (the arm's own exit)."""
        if self.episode is not None and self._connected:
            self._connected = False
            self.episode.arm.__exit__(None, None, None)

    def close(self) -> None:
        try:
            self._release()
        finally:
            self.sim.__exit__(None, None, None)

    def __enter__(self) -> SimStepper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
