"""`act-tool dataset synth`: a small pick-and-place dataset in LeRobot's own format.

Each episode places a red cube and a gray bowl at random spots on the table, then a scripted
SO-101 reaches above the cube, descends, closes the gripper, lifts, carries the cube over the
bowl, lowers it, opens and returns home. Frames come from LeRobot's dataset API
(`LeRobotDataset.create`, `add_frame`, `save_episode`, `finalize`), images are drawn by
`act_tool.train.scene`. `observation.state` is the arm's position at frame t and `action` the
target it is sent next (the position at t + 1), as when recording teleoperation; the cube's
position is only in the images, so a policy has to look to know where to reach.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from act_tool.policy.video_backend import video_backend
from act_tool.robot_types import SO101_FOLLOWER
from act_tool.train.errors import DatasetError
from act_tool.train.scene import (
    forward_kinematics,
    inverse_kinematics,
    render_front,
    render_handeye,
)

JOINT_NAMES = SO101_FOLLOWER.keys  # LeRobot's keys: "shoulder_pan.pos", ...
CAMERAS = ("front", "handeye")
TASK = "Put the red cube in the bowl."
HOME = (0.12, 0.0, 0.14)  # fingertips, m
OPEN, CLOSED = 70.0, 12.0  # gripper, 0..100
# Phases as (fraction of the episode, waypoint name); waypoints are filled per episode.
PHASES = (
    (0.16, "above_cube"),
    (0.10, "at_cube"),
    (0.08, "grasp"),
    (0.10, "lift"),
    (0.18, "above_bowl"),
    (0.08, "lower"),
    (0.08, "release"),
    (0.22, "home"),
)


@dataclass(frozen=True)
class SynthConfig:
    output: Path
    episodes: int = 6
    frames: int = 120  # per episode: 4 s, longer than the default 100-action chunk
    height: int = 96
    width: int = 128
    fps: int = 30
    seed: int = 0
    repo_id: str = "local/act_tool_synth"
    state_noise_deg: float = 0.3  # measured position noise, like a real servo read

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise DatasetError("--episodes must be at least 1")
        if self.frames < 2 * len(PHASES):
            raise DatasetError(f"each episode needs at least {2 * len(PHASES)} frames")
        if self.height < 32 or self.width < 32:
            raise DatasetError("images must be at least 32x32 pixels")


@dataclass(frozen=True)
class EpisodeLayout:
    """Where things are in one episode."""

    cube: np.ndarray  # bottom-face centre, m
    cube_yaw_deg: float
    bowl: np.ndarray

    @staticmethod
    def sample(rng: np.random.Generator) -> EpisodeLayout:
        side = rng.choice((-1.0, 1.0))
        cube = np.array([rng.uniform(0.15, 0.23), side * rng.uniform(0.02, 0.10), 0.0])
        bowl = np.array([rng.uniform(0.14, 0.22), -side * rng.uniform(0.06, 0.12), 0.0])
        return EpisodeLayout(cube, float(rng.uniform(-40, 40)), bowl)


def _smoothstep(s: np.ndarray) -> np.ndarray:
    return s * s * (3 - 2 * s)


def _holds(phase: str, s: float) -> bool:
    """Whether the fingers hold the cube at progress `s` of `phase`."""
    if phase in ("lift", "above_bowl", "lower"):
        return True
    return (phase == "grasp" and s > 0.5) or (phase == "release" and s < 0.5)


def scripted_trajectory(layout: EpisodeLayout, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions (frames, 6) and whether the cube is held at each frame."""
    cx, cy, _ = layout.cube
    bx, by, _ = layout.bowl
    roll = layout.cube_yaw_deg - math.degrees(math.atan2(cy, cx))
    # (x, y, z, wrist roll, gripper) per waypoint.
    points = {
        "start": (*HOME, 0.0, OPEN),
        "above_cube": (cx, cy, 0.09, roll, OPEN),
        "at_cube": (cx, cy, 0.012, roll, OPEN),
        "grasp": (cx, cy, 0.012, roll, CLOSED),
        "lift": (cx, cy, 0.10, roll, CLOSED),
        "above_bowl": (bx, by, 0.10, 0.0, CLOSED),
        "lower": (bx, by, 0.05, 0.0, CLOSED),
        "release": (bx, by, 0.05, 0.0, OPEN),
        "home": (*HOME, 0.0, OPEN),
    }
    lengths = np.array([f for f, _ in PHASES])
    counts = np.maximum(2, np.round(lengths / lengths.sum() * frames).astype(int))
    counts[-1] += frames - counts.sum()
    rows, held = [], []
    prev = np.array(points["start"])
    for (_, name), n in zip(PHASES, counts, strict=True):
        target = np.array(points[name])
        for s in _smoothstep(np.arange(1, n + 1) / n):
            rows.append(prev + (target - prev) * s)
            held.append(_holds(name, s))
        prev = target
    joints = np.array([inverse_kinematics(*p) for p in rows])
    return joints, np.array(held)


def _features(cfg: SynthConfig) -> dict:
    return SO101_FOLLOWER.dataset_features(tuple(CAMERAS), cfg.height, cfg.width)


def episode_frames(cfg: SynthConfig, layout: EpisodeLayout, rng: np.random.Generator):
    """The frames of one episode as dicts for `LeRobotDataset.add_frame`."""
    joints, held = scripted_trajectory(layout, cfg.frames)
    cube = layout.cube.copy()
    for t in range(cfg.frames):
        q = joints[t]
        pose = forward_kinematics(q)
        if held[t]:
            cube = pose.tip - np.array([0.0, 0.0, 0.012])
        elif cube[2] > 0:  # released: the cube drops into the bowl
            cube = np.array([cube[0], cube[1], 0.0])
        state = q + rng.normal(0.0, cfg.state_noise_deg, q.shape)
        action = joints[min(t + 1, cfg.frames - 1)]
        yield {
            "task": TASK,
            "observation.state": state.astype(np.float32),
            "action": action.astype(np.float32),
            "observation.images.front": render_front(
                pose, cube, layout.cube_yaw_deg, layout.bowl, cfg.width, cfg.height
            ),
            "observation.images.handeye": render_handeye(
                pose, cube, layout.cube_yaw_deg, layout.bowl, cfg.width, cfg.height
            ),
        }


def write_synthetic_dataset(cfg: SynthConfig, log: Callable[[str], None] = lambda _: None) -> Path:
    """Write the dataset to `cfg.output` (which must not exist yet) and return its path."""
    import logging

    # LeRobot warns at length when torchcodec cannot load FFmpeg; image datasets never need it.
    logging.getLogger("lerobot.utils.import_utils").setLevel(logging.ERROR)
    import datasets

    datasets.disable_progress_bars()  # one "Map" bar per episode otherwise
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    if cfg.output.exists():
        raise DatasetError(f"{cfg.output} already exists: choose another --output or delete it")
    ds = LeRobotDataset.create(
        repo_id=cfg.repo_id,
        fps=cfg.fps,
        features=_features(cfg),
        root=cfg.output,
        robot_type=SO101_FOLLOWER.name,
        use_videos=False,
        video_backend=video_backend(),
    )
    rng = np.random.default_rng(cfg.seed)
    for episode in range(cfg.episodes):
        layout = EpisodeLayout.sample(rng)
        for frame in episode_frames(cfg, layout, rng):
            ds.add_frame(frame)
        ds.save_episode()
        log(f"episode {episode + 1}/{cfg.episodes}: cube at {np.round(layout.cube[:2], 3)} m")
    ds.finalize()
    return cfg.output
