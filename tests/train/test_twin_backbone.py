"""The twin backbone: pretraining on a few tiny frames, its file, and LeRobot's ACT loading it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim import helpers
from tests.tolerances import U32, assert_within

pytest.importorskip("mujoco", reason=helpers.NO_SIM)
pytest.importorskip("lerobot")

import torch  # noqa: E402

from act_tool.train.errors import TrainError  # noqa: E402
from act_tool.train.twin_backbone import (  # noqa: E402
    PretrainConfig,
    install_backbone,
    load_backbone,
    make_twin_backbone,
    resnet18,
)

H, W = 48, 64  # the tiny_backbone fixture's size (tests/train/conftest.py)


def _act_policy(h: int = H, w: int = W):
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy

    cfg = ACTConfig(
        dim_model=32, dim_feedforward=64, n_heads=2, n_encoder_layers=1, latent_dim=8,
        n_vae_encoder_layers=1, chunk_size=5, n_action_steps=5, pretrained_backbone_weights=None,
        input_features={
            "observation.state": PolicyFeature(FeatureType.STATE, (6,)),
            "observation.images.front": PolicyFeature(FeatureType.VISUAL, (3, h, w)),
        },
        output_features={"action": PolicyFeature(FeatureType.ACTION, (6,))},
        device="cpu",
    )  # fmt: skip
    return ACTPolicy(cfg)


def test_pretraining_learns_and_measures_itself(tiny_backbone):
    path, result = tiny_backbone
    assert result.train_loss < 0.7 * result.first_loss, (result.first_loss, result.train_loss)
    assert set(result.val_cube_error_m) == {"front", "handeye"}
    assert all(np.isfinite(e) and e >= 0 for e in result.val_cube_error_m.values())
    state, meta = load_backbone(path)
    assert meta["height"] == H and meta["width"] == W and meta["arch"] == "resnet18"
    assert not any(k.startswith("fc.") or k.endswith("num_batches_tracked") for k in state)
    # The batch norms' statistics were learned from the frames, not left at their start.
    assert not torch.allclose(state["bn1.running_mean"], torch.zeros(64))
    assert not torch.allclose(state["layer4.1.bn2.running_var"], torch.ones(512))


def test_lerobot_act_computes_the_pretrained_features(tiny_backbone):
    path, _ = tiny_backbone
    state, _ = load_backbone(path)
    policy = _act_policy()
    install_backbone(policy, path, {"observation.images.front": (H, W)})
    ours = resnet18(batch_norm=False)  # FrozenBatchNorm2d, as LeRobot builds it
    ours.load_state_dict(state)
    x = torch.randn(3, 3, H, W)
    with torch.no_grad():
        got = policy.model.backbone(x)["feature_map"]
        want = ours(x)["feature_map"]
    # Same modules, same weights, same input, same kernels: bitwise equal.
    assert torch.equal(got, want)
    for key, value in state.items():
        assert torch.equal(policy.model.backbone.state_dict()[key], value), key


def test_frozen_batch_norm_is_the_trained_batch_norm(tiny_backbone):
    """What LeRobot's FrozenBatchNorm2d computes from the file's buffers is what the trained
    BatchNorm2d computed in evaluation, up to a few roundings of each elementwise term."""
    path, _ = tiny_backbone
    state, _ = load_backbone(path)
    bn = torch.nn.BatchNorm2d(64).eval()
    bn.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("bn1.")}, strict=False)
    from torchvision.ops.misc import FrozenBatchNorm2d

    frozen = FrozenBatchNorm2d(64)
    frozen.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("bn1.")})
    x = torch.randn(2, 64, 5, 7) * 3
    with torch.no_grad():
        got, want = frozen(x), bn(x)
    scale = (state["bn1.weight"] / torch.sqrt(state["bn1.running_var"] + 1e-5)).view(1, -1, 1, 1)
    terms = (x * scale).abs() + (state["bn1.running_mean"].view(1, -1, 1, 1) * scale).abs()
    terms = terms + state["bn1.bias"].view(1, -1, 1, 1).abs()
    assert_within(got.numpy(), want.numpy(), (8 * U32 * terms).numpy(), "frozen vs trained BN")


def test_a_backbone_of_another_size_or_kind_is_refused(tiny_backbone, tmp_path):
    path, _ = tiny_backbone
    policy = _act_policy(64, 96)
    with pytest.raises(TrainError, match="trained on 48x64 images; camera .* gives 64x96"):
        install_backbone(policy, path, {"observation.images.front": (64, 96)})
    other = tmp_path / "imagenet.safetensors"
    from safetensors.torch import save_file

    save_file({"conv1.weight": torch.zeros(64, 3, 7, 7)}, str(other))
    with pytest.raises(TrainError, match="not an act-tool twin backbone"):
        load_backbone(other)
    with pytest.raises(TrainError, match="no such file"):
        load_backbone(tmp_path / "missing.safetensors")


def test_bf16_without_native_support_is_refused(monkeypatch, tmp_path):
    from act_tool.train import cpu_features

    monkeypatch.setattr(cpu_features, "bf16_supported", lambda: False)
    with pytest.raises(TrainError, match="no native BF16"):
        make_twin_backbone(tmp_path / "b.safetensors", [1], [2], H, W,
                           PretrainConfig(steps=1, batch_size=2, bf16=True))  # fmt: skip
