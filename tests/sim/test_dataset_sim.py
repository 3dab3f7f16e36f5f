"""`act-tool dataset sim` writes a dataset that LeRobot opens."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.sim.helpers import NO_SIM

pytest.importorskip("mujoco", reason=NO_SIM)
pytest.importorskip("lerobot", reason="LeRobot (the `export` extra) is not installed")


def test_dataset_sim_writes_a_lerobot_dataset(tmp_path, render_twin):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from act_tool.cli import app
    from act_tool.hw.so101.joints import JOINT_KEYS
    from act_tool.sim.expert import ScriptedExpert

    out = tmp_path / "sim"
    args = ["dataset", "sim", "-o", str(out), "--episodes", "2", "--seed", "3"]
    result = CliRunner().invoke(app, [*args, "--height", "48", "--width", "64"])
    assert result.exit_code == 0, result.output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".sim.")]  # staging removed

    ds = LeRobotDataset("local/act_tool_sim", root=out)
    ticks = ScriptedExpert.episode_ticks(30)
    assert ds.num_episodes == 2 and ds.num_frames == 2 * ticks
    assert ds.meta.robot_type == "so101_follower" and ds.fps == 30
    assert ds.features["observation.state"]["names"] == list(JOINT_KEYS)
    first, grasp = ds[0], ds[ticks // 3]
    assert tuple(first["observation.images.front"].shape) == (3, 48, 64)
    assert tuple(first["observation.images.handeye"].shape) == (3, 48, 64)
    # The arm starts at home (goal = state) and later moves: state and action in degrees.
    start = first["observation.state"].numpy()
    np.testing.assert_allclose(first["action"].numpy(), start, rtol=0, atol=0.5)
    assert np.abs(grasp["observation.state"].numpy() - start).max() > 10.0


def test_existing_output_is_refused(tmp_path):
    from act_tool.cli import app

    result = CliRunner().invoke(app, ["dataset", "sim", "-o", str(tmp_path), "--episodes", "1"])
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_noise_drives_the_arm_off_the_path_and_records_the_experts_actions(tmp_path, render_twin):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from act_tool.sim.dataset import SimDatasetConfig, write_sim_dataset
    from act_tool.sim.expert import ScriptedExpert
    from act_tool.sim.layout import CellLayout

    runs = {}
    for noise in (0.0, 3.0):
        out = tmp_path / f"n{noise}"
        result = write_sim_dataset(SimDatasetConfig(out, 1, 2, 24, 32, noise=noise))
        ds = LeRobotDataset("local/act_tool_sim", root=out)
        runs[noise] = (result.seeds[0], ds.hf_dataset.with_format("numpy")[:])
    (seed0, clean), (seed3, noisy) = runs[0.0], runs[3.0]
    if seed0 != seed3:
        pytest.skip("the noisy expert missed seed 2; the datasets hold different layouts")
    # The recorded actions are the expert's plan in both (float32 of the same float64 values).
    twin = render_twin
    plan = ScriptedExpert(twin.kinematics, twin.home, 30).plan(CellLayout.sample(seed0))
    np.testing.assert_array_equal(noisy["action"], plan.goals.astype(np.float32))
    np.testing.assert_array_equal(clean["action"], plan.goals.astype(np.float32))
    # The arm itself went elsewhere: the states differ by degrees, not by rounding.
    gap = np.abs(noisy["observation.state"][:, :5] - clean["observation.state"][:, :5]).max()
    assert gap > 2.0, gap


def test_noise_out_of_range_is_refused(tmp_path):
    from act_tool.sim.dataset import SimDatasetConfig
    from act_tool.sim.errors import SimError

    with pytest.raises(SimError, match="--noise"):
        SimDatasetConfig(tmp_path / "x", noise=-1.0)
