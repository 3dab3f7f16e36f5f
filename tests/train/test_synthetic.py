"""The synthetic pick-and-place dataset: geometry, trajectory, images and LeRobot format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from act_tool.train import scene
from act_tool.train.errors import DatasetError
from act_tool.train.synthetic import (
    CAMERAS,
    CLOSED,
    JOINT_NAMES,
    OPEN,
    EpisodeLayout,
    SynthConfig,
    episode_frames,
    scripted_trajectory,
)


def test_kinematics_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(50):
        x, y, z = rng.uniform(0.12, 0.23), rng.uniform(-0.12, 0.12), rng.uniform(0.01, 0.12)
        q = scene.inverse_kinematics(x, y, z, 10.0, 50.0)
        pose = scene.forward_kinematics(q)
        # Analytic IK in float64 (atan2, acos): round trip ~1e-16 m per operation; 1e-9 m leaves
        # room for any libm's few-ulp trigonometry.
        np.testing.assert_allclose(pose.tip, [x, y, z], atol=1e-9)
        assert pose.wrist[2] > pose.tip[2]  # pointing down


def test_trajectory_reaches_grasps_carries_releases():
    rng = np.random.default_rng(1)
    layout = EpisodeLayout.sample(rng)
    joints, held = scripted_trajectory(layout, 60)
    assert joints.shape == (60, 6) and held.shape == (60,)
    tips = np.array([scene.forward_kinematics(q).tip for q in joints])
    grasp = int(np.argmax(held))
    assert np.linalg.norm(tips[grasp, :2] - layout.cube[:2]) < 0.005  # at the cube
    assert joints[grasp, 5] < (OPEN + CLOSED) / 2  # gripper closing
    last_held = len(held) - 1 - int(np.argmax(held[::-1]))
    assert np.linalg.norm(tips[last_held, :2] - layout.bowl[:2]) < 0.005  # over the bowl
    assert joints[-1, 5] == pytest.approx(OPEN)
    assert np.abs(np.diff(joints[:, :5], axis=0)).max() < 15  # smooth arm: no jumps


def red_centroid(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[..., i].astype(int) for i in range(3))
    ys, xs = np.nonzero((r > 150) & (g < 80) & (b < 80))
    assert len(xs) > 0, "cube not visible"
    return np.array([xs.mean(), ys.mean()])


def test_frames_show_the_cube_where_it_is():
    cfg = SynthConfig(Path("/unused"), frames=40, height=96, width=128)
    rng = np.random.default_rng(2)
    a = EpisodeLayout.sample(rng)
    b = EpisodeLayout(a.cube + np.array([0.0, 0.08 * -np.sign(a.cube[1]), 0.0]), 0.0, a.bowl)
    fa = next(episode_frames(cfg, a, rng))
    fb = next(episode_frames(cfg, b, rng))
    for f in (fa, fb):
        assert set(f) == {"task", "observation.state", "action"} | {
            f"observation.images.{c}" for c in CAMERAS
        }
        assert f["observation.images.front"].shape == (96, 128, 3)
        assert f["observation.images.front"].dtype == np.uint8
    shift = red_centroid(fb["observation.images.front"]) - red_centroid(
        fa["observation.images.front"]
    )
    assert np.abs(shift[0]) > 5  # the cube moved sideways in the front view


def test_actions_are_the_next_targets():
    cfg = SynthConfig(Path("/unused"), frames=30, state_noise_deg=0.0)
    rng = np.random.default_rng(3)
    frames = list(episode_frames(cfg, EpisodeLayout.sample(rng), rng))
    states = np.stack([f["observation.state"] for f in frames])
    actions = np.stack([f["action"] for f in frames])
    # Without noise both are the same float64 joint targets rounded to float32: exact.
    np.testing.assert_array_equal(actions[:-1], states[1:])
    assert len(JOINT_NAMES) == 6 and JOINT_NAMES[0] == "shoulder_pan.pos"


@pytest.mark.parametrize("kw", [dict(episodes=0), dict(frames=3), dict(height=8)])
def test_bad_config(kw):
    with pytest.raises(DatasetError):
        SynthConfig(Path("/unused"), **kw)


def test_written_dataset_loads_in_lerobot(synth_dataset):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset("local/ds", root=synth_dataset)
    assert ds.num_episodes == 2 and ds.num_frames == 40
    item = ds[5]
    assert tuple(item["observation.images.front"].shape) == (3, 48, 64)
    assert tuple(item["action"].shape) == (6,)
