"""LeRobot's trainer as act-tool starts it: the backbone's images in channels-last order on the
CPU, the policy's weights and outputs unchanged."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lerobot")

from act_tool.testing.tiny_checkpoint import TinyConfig, make_policy  # noqa: E402
from act_tool.train.lerobot_entry import images_channels_last  # noqa: E402
from tests.tolerances import FP32_BOUND, assert_within  # noqa: E402


def _batch(cfg: TinyConfig) -> dict:
    g = torch.Generator().manual_seed(3)
    batch = {"observation.state": torch.randn(2, 6, generator=g)}
    for cam in cfg.cameras:
        batch[f"observation.images.{cam}"] = torch.randn(2, 3, cfg.height, cfg.width, generator=g)
    return batch


def test_backbone_sees_channels_last_and_the_policy_computes_the_same():
    cfg = TinyConfig()
    policy = make_policy(cfg)
    batch = _batch(cfg)
    with torch.no_grad():
        before = policy.predict_action_chunk(dict(batch)).numpy()
    weights = {k: v.clone() for k, v in policy.state_dict().items()}
    assert images_channels_last(policy)
    seen: list[bool] = []
    policy.model.backbone.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    with torch.no_grad():
        after = policy.predict_action_chunk(dict(batch)).numpy()
    assert seen == [True] * len(cfg.cameras)
    # The same network in another summation order: both within the FP32 parity bound of the
    # exact result (normalized actions: std 1).
    assert_within(after, before, 2 * FP32_BOUND, "actions, channels-last against LeRobot's")
    state = policy.state_dict()
    assert all(torch.equal(state[k], v) and state[k].is_contiguous() for k, v in weights.items())


def test_training_step_keeps_parameters_and_gradients_in_lerobots_layout():
    cfg = TinyConfig()
    policy = make_policy(cfg).train()
    assert images_channels_last(policy)
    batch = _batch(cfg)
    batch["action"] = torch.randn(2, cfg.chunk_size, 6)
    batch["action_is_pad"] = torch.zeros(2, cfg.chunk_size, dtype=torch.bool)
    loss, _ = policy.forward(batch)
    loss.backward()
    conv = policy.model.backbone.conv1.weight
    assert conv.grad is not None and torch.isfinite(conv.grad).all()
    assert conv.is_contiguous()
