"""The synthetic dataset is learnable: a tiny ACT trained for a minute on a CPU predicts actions
on a held-out episode better than the dataset's mean action does."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

H, W = 48, 64
STEPS = 250


def test_tiny_policy_beats_the_mean_action(tmp_path):
    pytest.importorskip("lerobot")
    from act_tool.testing.evaluate import dataset_mean_action, first_actions
    from act_tool.train.runner import TrainRequest, run_training
    from act_tool.train.synthetic import (
        EpisodeLayout,
        SynthConfig,
        episode_frames,
        write_synthetic_dataset,
    )

    cfg = SynthConfig(tmp_path / "ds", episodes=6, frames=60, height=H, width=W, seed=0)
    write_synthetic_dataset(cfg)
    result = run_training(
        TrainRequest(
            output=tmp_path / "run",
            dataset=str(cfg.output),
            steps=STEPS,
            batch_size=8,
            device="cpu",
            pretrained_backbone=False,
            extra=(
                "--policy.dim_model=64",
                "--policy.dim_feedforward=128",
                "--policy.n_heads=2",
                "--policy.n_encoder_layers=1",
                "--policy.chunk_size=10",
                "--policy.use_vae=false",
                "--policy.optimizer_lr=1e-3",
                "--policy.optimizer_lr_backbone=1e-4",
                "--num_workers=0",
            ),
        ),
        log=lambda _: None,
        write=lambda _: None,
        interactive=False,
    )
    rng = np.random.default_rng(12345)  # layouts never seen in training
    frames = [f for _ in range(2) for f in episode_frames(cfg, EpisodeLayout.sample(rng), rng)]
    truth = np.stack([f["action"] for f in frames])
    policy_mse = float(((first_actions(result.checkpoint, frames) - truth) ** 2).mean())
    mean_mse = float(((dataset_mean_action(cfg.output) - truth) ** 2).mean())
    print(f"held-out MSE (deg^2): policy {policy_mse:.1f}, mean action {mean_mse:.1f}")
    assert policy_mse < 0.6 * mean_mse
