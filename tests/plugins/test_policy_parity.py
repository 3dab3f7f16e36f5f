"""The plugin's actions against LeRobot's ACT on the same observations, through the same calls
LeRobot's sync rollout makes (prepare_observation_for_inference, the preprocessor LeRobot loads
from the export folder, select_action, the postprocessor): the action queue and temporal
ensembling."""

from __future__ import annotations

import numpy as np
import pytest

from tests.runtime.test_executor_parity import ensemble_bound, lerobot_actions
from tests.tolerances import FP32_BOUND, U32

N_OBS = 25  # chunk 10: the queue is refilled at 0, 10 and 20


def plugin_actions(folder, observations, **overrides):
    import torch
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.factory import make_pre_post_processors
    from lerobot.policies.utils import prepare_observation_for_inference
    from lerobot_policy_act_tool.modeling_act_tool import ActToolPolicy

    config = PreTrainedConfig.from_pretrained(folder)
    for key, value in overrides.items():
        setattr(config, key, value)
    config.pretrained_path = folder
    policy = ActToolPolicy.from_pretrained(folder, config=config)
    pre, post = make_pre_post_processors(config, pretrained_path=str(folder))
    policy.reset()
    out, chunks = [], []
    for obs in observations:
        raw = {k: f.copy() for k, f in obs.frames.items()}
        raw["observation.state"] = obs.state.copy()
        with torch.inference_mode():
            batch = pre(prepare_observation_for_inference(raw, torch.device("cpu")))
            chunks.append(policy.predict_action_chunk(batch)[0].numpy())
            action = post(policy.select_action(batch))
        out.append(action[0].numpy())
    return np.stack(out), np.stack(chunks)


@pytest.mark.parametrize(
    "coeff,n_steps", [(None, 10), (None, 4), (0.01, 1)], ids=["queue-10", "queue-4", "ensemble"]
)
def test_plugin_matches_lerobot_select_action(
    plugins_imported, tiny_checkpoint, bench_onnx, coeff, n_steps
):
    from act_tool.export.parity import random_observations
    from act_tool.policy.checkpoint import load_checkpoint
    from act_tool.policy.describe import action_scale

    ckpt = load_checkpoint(tiny_checkpoint)
    observations = random_observations(ckpt, N_OBS, seed=5)
    expected = lerobot_actions(ckpt, observations, coeff, n_steps)
    got, chunks = plugin_actions(
        bench_onnx.parent, observations, n_action_steps=n_steps, temporal_ensemble_coeff=coeff
    )
    assert got.shape == expected.shape == (N_OBS, 6)
    # as tests/runtime/test_executor_parity: the FP32 artifact within its parity bound of
    # LeRobot's chunks, a blend of them too; LeRobot's float32 ensembling adds its rounding
    scale = action_scale(ckpt)
    bound = FP32_BOUND + 2 * U32 * np.abs(expected) / scale
    if coeff is not None:
        largest = float(np.abs((chunks - ckpt.stats["action"]["mean"]) / scale).max())
        bound = bound + ensemble_bound(ckpt.config.chunk_size, coeff, largest, float32_sums=True)
    rel = np.abs(got.astype(np.float64) - expected) / scale
    assert (rel <= bound).all(), f"worst {(rel - bound).max():+.2e} of the action std past"
    assert np.abs(np.diff(expected, axis=0)).max() > 0  # the sequence exercises the mode


def test_images_reach_the_engine_as_the_cameras_bytes(
    plugins_imported, tiny_checkpoint, bench_onnx
):
    """LeRobot divides the camera's uint8 by 255 and makes it CHW; the plugin writes the exact
    bytes back into the engine's input, in the artifact's channel order (BGR here)."""
    import torch
    from lerobot.policies.utils import prepare_observation_for_inference

    from act_tool.lerobot_policy.engine_policy import EngineChoice, EnginePolicy

    rng = np.random.default_rng(0)
    engine = EnginePolicy(EngineChoice(bench_onnx.parent), log=lambda _: None)
    try:
        raw = {
            c.key: rng.integers(0, 256, (c.height, c.width, 3), np.uint8)
            for c in engine.spec.cameras
        }
        raw["observation.state"] = np.zeros(6, np.float32)
        frames = {k: v.copy() for k, v in raw.items()}
        with torch.inference_mode():
            engine.feed(prepare_observation_for_inference(raw, torch.device("cpu")))
        for cam in engine.spec.cameras:
            # exact: x / 255 * 255 + 0.5 truncated recovers every byte (float32 error < 0.5)
            assert np.array_equal(engine.runner.inputs[cam.key][0], frames[cam.key][..., ::-1])
    finally:
        engine.close()
