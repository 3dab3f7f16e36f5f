"""`act-tool dataset sim`: the scripted expert's episodes in the twin, as a LeRobot dataset.

Episode i is laid out by seed `seed + i` (`CellLayout.sample`); an episode the expert fails is
left out and the next seed is used, so the dataset holds only successful demonstrations (the
seeds used are returned). Each frame: both cameras rendered (RGB, LeRobot's camera convention),
`observation.state` the joint positions read at frame t, `action` the expert's goals at t, in the
SO-101's LeRobot units (degrees, gripper 0..100); then the physics advances one period.

With `noise` the arm is driven by the expert's goals plus smooth random offsets while the
recorded action stays the expert's own (DART, Laskey et al. 2017): the demonstrations then show
how to come back to the path from poses a policy's small errors lead to, which a noiseless
expert never visits.

Written with LeRobot's dataset API (`LeRobotDataset.create`, `add_frame`, `save_episode`,
`finalize`) into a staging folder beside the output, renamed into place when complete. This is
the only module of `act_tool.sim` that imports LeRobot.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from act_tool.hw.so101.joints import JOINT_KEYS
from act_tool.policy.video_backend import video_backend
from act_tool.robot_types import SO101_FOLLOWER
from act_tool.sim.detectors import episode_success
from act_tool.sim.errors import SimError
from act_tool.sim.expert import ScriptedExpert, smooth_offsets
from act_tool.sim.twin import CAMERAS, Twin, TwinConfig
from act_tool.sim.units import GRIPPER

TASK = "Put the red cube in the bowl."
MAX_SKIPPED = 0.5  # give up when more than this fraction of the episodes asked for fail


@dataclass(frozen=True)
class SimDatasetConfig:
    output: Path
    episodes: int = 50
    seed: int = 0
    height: int = 96
    width: int = 128
    fps: int = 30
    repo_id: str = "local/act_tool_sim"
    noise: float = 0.0  # degrees: std of smooth offsets added to the executed arm goals

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise SimError("--episodes must be at least 1")
        if self.seed < 0:
            raise SimError("--seed must be a non-negative integer")
        if not (16 <= self.height <= 1080 and 16 <= self.width <= 1920):
            raise SimError("images must be 16..1080 pixels high and 16..1920 wide")
        if not 5 <= self.fps <= 100:
            raise SimError("--fps must be 5..100")
        if not 0.0 <= self.noise <= 10.0:
            raise SimError("--noise must be 0..10 degrees")


@dataclass
class SimDatasetResult:
    path: Path
    frames: int = 0
    seeds: list[int] = field(default_factory=list)  # the layouts recorded, one per episode
    skipped: list[int] = field(default_factory=list)  # seeds whose episode failed


def _features(cfg: SimDatasetConfig) -> dict:
    return SO101_FOLLOWER.dataset_features(tuple(CAMERAS), cfg.height, cfg.width)


def noise_std(noise: float) -> np.ndarray:
    """Per joint std of the executed goals' offsets: `noise` degrees on the arm, none on the
    gripper (its goal is open or shut; an offset would only squeeze or drop the cube)."""
    std = np.full(len(JOINT_KEYS), noise)
    std[GRIPPER] = 0.0
    return std


def _record_episode(twin: Twin, expert: ScriptedExpert, seed: int, ds, cfg, tick) -> bool:
    """Runs one episode into the dataset's buffer; True if the expert succeeded."""
    layout = twin.reset(seed)
    plan = expert.plan(layout)
    executed = plan.goals
    if cfg.noise > 0:  # the arm is driven off the plan; the action recorded stays the plan's
        rng = np.random.default_rng([seed, 0xDA7])
        executed = plan.goals + smooth_offsets(rng, len(plan.goals), noise_std(cfg.noise))
    # Reused every frame: without image-writer threads LeRobot has written each image to disk
    # before add_frame returns.
    images = {cam: np.empty((cfg.height, cfg.width, 3), dtype=np.uint8) for cam in CAMERAS}
    state = np.empty(len(JOINT_KEYS))
    for goal, drive in zip(plan.goals, executed, strict=True):
        twin.joint_positions(state)
        for cam, frame in images.items():
            twin.render(cam, frame, rgb=True)
        ds.add_frame(
            {
                "task": TASK,
                "observation.state": state.astype(np.float32),
                "action": goal.astype(np.float32),
                **{f"observation.images.{cam}": frame for cam, frame in images.items()},
            }
        )
        twin.set_goals(drive)
        twin.step(1.0 / cfg.fps)
        tick()
    return episode_success(twin.cell_state())


def write_sim_dataset(
    cfg: SimDatasetConfig,
    on_frame: Callable[[], None] = lambda: None,
    log: Callable[[str], None] = lambda _: None,
) -> SimDatasetResult:
    """Writes the dataset to `cfg.output` (which must not exist yet)."""
    import logging

    # LeRobot warns at length when torchcodec cannot load FFmpeg; image datasets never need it.
    logging.getLogger("lerobot.utils.import_utils").setLevel(logging.ERROR)
    import datasets

    datasets.disable_progress_bars()
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    output = cfg.output
    if output.exists():
        raise SimError(f"{output} already exists: choose another --output or delete it")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    result = SimDatasetResult(output)
    config = TwinConfig(max_height=max(480, cfg.height), max_width=max(640, cfg.width))
    try:
        with Twin(config) as twin:
            expert = ScriptedExpert(twin.kinematics, twin.home, cfg.fps)
            ds = LeRobotDataset.create(
                repo_id=cfg.repo_id,
                fps=cfg.fps,
                features=_features(cfg),
                root=staging / "dataset",
                robot_type="so101_follower",
                use_videos=False,
                video_backend=video_backend(),
            )
            _record(cfg, twin, expert, ds, result, on_frame, log)
            ds.finalize()
        (staging / "dataset").rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _record(cfg, twin, expert, ds, result: SimDatasetResult, on_frame, log) -> None:
    seed = cfg.seed
    while len(result.seeds) < cfg.episodes:
        if len(result.skipped) > MAX_SKIPPED * cfg.episodes:
            raise SimError(
                f"the scripted expert failed {len(result.skipped)} episodes "
                f"(seeds {result.skipped}): the twin or the expert is broken; report it"
            )
        if _record_episode(twin, expert, seed, ds, cfg, on_frame):
            ds.save_episode()
            result.seeds.append(seed)
            result.frames = ds.meta.total_frames
            log(f"episode {len(result.seeds)}/{cfg.episodes}: seed {seed}")
        else:
            ds.clear_episode_buffer()
            result.skipped.append(seed)
            log(f"seed {seed}: the expert missed; not recorded")
        seed += 1
