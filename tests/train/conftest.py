"""Fixtures for the training tests: a tiny synthetic dataset and one tiny training run.

Training runs in a subprocess; one OpenMP thread keeps it fast on small shared CPUs (two
threads spin against each other when another process holds a core)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True, scope="session")
def _private_feature_cache(tmp_path_factory):
    """Frozen-backbone runs keep their features in the test's own folder, not ~/.cache."""
    saved = os.environ.get("ACT_TOOL_FEATURE_CACHE")
    os.environ["ACT_TOOL_FEATURE_CACHE"] = str(tmp_path_factory.mktemp("features"))
    yield
    if saved is None:
        os.environ.pop("ACT_TOOL_FEATURE_CACHE", None)
    else:
        os.environ["ACT_TOOL_FEATURE_CACHE"] = saved


# A policy small enough to train a few steps in seconds on one CPU core.
TINY_POLICY = (
    "--policy.dim_model=32",
    "--policy.dim_feedforward=64",
    "--policy.n_heads=2",
    "--policy.n_encoder_layers=1",
    "--policy.latent_dim=8",
    "--policy.n_vae_encoder_layers=1",
    "--policy.chunk_size=5",
    "--num_workers=0",
)


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory) -> Path:
    """Two short episodes at 48x64: enough for LeRobot to train on, quick to write."""
    pytest.importorskip("lerobot")
    from act_tool.train.synthetic import SynthConfig, write_synthetic_dataset

    out = tmp_path_factory.mktemp("synth") / "ds"
    return write_synthetic_dataset(SynthConfig(out, episodes=2, frames=20, height=48, width=64))


@pytest.fixture(scope="session")
def tiny_run(synth_dataset, tmp_path_factory):
    """Two training steps of a tiny ACT on the synthetic dataset (random backbone)."""
    from act_tool.train.runner import TrainRequest, run_training

    out = tmp_path_factory.mktemp("runs") / "tiny"
    lines: list[str] = []
    result = run_training(
        TrainRequest(
            output=out,
            dataset=str(synth_dataset),
            steps=2,
            batch_size=4,
            device="cpu",
            pretrained_backbone=False,
            extra=TINY_POLICY,
        ),
        log=lines.append,
        write=lines.append,
        interactive=False,
    )
    return result, lines


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory):
    """A twin backbone pretrained for 40 steps on 48x64 frames of two layouts (and its result)."""
    pytest.importorskip("mujoco")
    pytest.importorskip("lerobot")
    import numpy as np
    import torch

    from act_tool.sim.errors import RenderError
    from act_tool.sim.twin import Twin
    from act_tool.train.twin_backbone import PretrainConfig, make_twin_backbone

    with Twin() as t:
        try:
            t.render("front", np.empty((8, 8, 3), dtype=np.uint8))
        except RenderError as e:
            pytest.skip(f"no offscreen rendering here: {e}")
    path = tmp_path_factory.mktemp("backbone") / "backbone.safetensors"
    torch.manual_seed(0)
    result = make_twin_backbone(
        path, [11, 12], [13], 48, 64, PretrainConfig(steps=40, batch_size=8, lr=3e-3),
        log=lambda _: None,
    )  # fmt: skip
    return path, result
