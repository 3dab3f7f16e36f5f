"""Checkpoint discovery, both layouts, and every bad-input case (clear error, nothing written)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lerobot")

from act_tool.errors import CheckpointError  # noqa: E402
from act_tool.policy.checkpoint import load_checkpoint, resolve_checkpoint_dir  # noqa: E402
from tests.tolerances import U32  # noqa: E402


def copy_ckpt(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_resolves_training_output_and_step_folders(tiny_checkpoint, tmp_path):
    run = tmp_path / "run"
    step = run / "checkpoints" / "000010"
    shutil.copytree(tiny_checkpoint, step / "pretrained_model")
    (run / "checkpoints" / "last").symlink_to("000010")
    expected = (step / "pretrained_model").resolve()
    assert resolve_checkpoint_dir(run).resolve() == expected
    assert resolve_checkpoint_dir(step).resolve() == expected
    assert resolve_checkpoint_dir(run / "checkpoints" / "last").resolve() == expected
    assert resolve_checkpoint_dir(step / "pretrained_model").resolve() == expected


def test_latest_step_is_chosen_without_last_link(tiny_checkpoint, tmp_path):
    for s in ("000005", "000020"):
        shutil.copytree(tiny_checkpoint, tmp_path / "checkpoints" / s / "pretrained_model")
    assert resolve_checkpoint_dir(tmp_path).parent.name == "000020"


def test_new_layout_loads_with_processors_and_stats(tiny_checkpoint):
    ckpt = load_checkpoint(tiny_checkpoint)
    assert ckpt.layout == "processors"
    assert ckpt.camera_keys == ["observation.images.front", "observation.images.handeye"]
    assert ckpt.config.pretrained_backbone_weights is None
    assert set(ckpt.norm_modes.values()) == {"MEAN_STD"}
    # ImageNet's mean stored as float32: one rounding, relative U32.
    mean = ckpt.stats["observation.images.front"]["mean"].ravel()
    np.testing.assert_allclose(mean, [0.485, 0.456, 0.406], rtol=U32, atol=0)
    assert not ckpt.policy.training


def test_legacy_layout_has_same_stats_and_weights(tiny_checkpoint, legacy_checkpoint):
    new, old = load_checkpoint(tiny_checkpoint), load_checkpoint(legacy_checkpoint)
    assert old.layout == "legacy"
    for key in new.stats:
        for stat in ("mean", "std"):
            # The same float32 numbers saved in two layouts: exact.
            np.testing.assert_array_equal(old.stats[key][stat], new.stats[key][stat])
    w_new = dict(new.policy.named_parameters())
    for name, p in old.policy.named_parameters():
        assert np.array_equal(p.detach().numpy(), w_new[name].detach().numpy()), name


def test_legacy_camera_with_underscore_keeps_its_statistics(tmp_path):
    """`wrist_cam` must map to observation.images.wrist_cam, not ...images.wrist.cam."""
    from act_tool.testing.tiny_checkpoint import TinyConfig, save_tiny_checkpoint

    path = save_tiny_checkpoint(
        tmp_path / "ck", TinyConfig(cameras=("front", "wrist_cam")), legacy=True
    )
    ckpt = load_checkpoint(path)
    assert "observation.images.wrist_cam" in ckpt.stats
    std = ckpt.stats["observation.images.wrist_cam"]["std"].ravel()
    np.testing.assert_allclose(std, [0.229, 0.224, 0.225], rtol=U32, atol=0)  # float32 storage
    # What a naive underscore-to-dot migration would produce does not exist in the config.
    naive = "observation_images_wrist_cam".replace("_", ".")
    assert naive not in ckpt.config.image_features


def test_missing_path(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        resolve_checkpoint_dir(tmp_path / "nope")


def test_folder_without_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not an ACT checkpoint"):
        resolve_checkpoint_dir(tmp_path)


def test_other_policy_type(tiny_checkpoint, tmp_path):
    ck = copy_ckpt(tiny_checkpoint, tmp_path / "ck")
    cfg = json.loads((ck / "config.json").read_text())
    cfg["type"] = "diffusion"
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"config\.json.*'diffusion', not 'act'"):
        load_checkpoint(ck)


def test_truncated_weights_name_the_file(tiny_checkpoint, tmp_path):
    ck = copy_ckpt(tiny_checkpoint, tmp_path / "ck")
    weights = ck / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*truncated"):
        load_checkpoint(ck)


def test_missing_weights(tiny_checkpoint, tmp_path):
    ck = copy_ckpt(tiny_checkpoint, tmp_path / "ck")
    (ck / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"model\.safetensors: missing"):
        load_checkpoint(ck)


def test_broken_config_json(tiny_checkpoint, tmp_path):
    ck = copy_ckpt(tiny_checkpoint, tmp_path / "ck")
    (ck / "config.json").write_text('{"type": "act", ')
    with pytest.raises(CheckpointError, match=r"config\.json: not valid JSON"):
        load_checkpoint(ck)


def test_missing_stats_for_a_feature(tiny_checkpoint, tmp_path):
    from safetensors.torch import load_file, save_file

    ck = copy_ckpt(tiny_checkpoint, tmp_path / "ck")
    stats_file = ck / "policy_preprocessor_step_3_normalizer_processor.safetensors"
    tensors = {
        k: v
        for k, v in load_file(str(stats_file)).items()
        if not k.startswith("observation.state.")
    }
    save_file(tensors, str(stats_file))
    with pytest.raises(CheckpointError, match="statistics missing for feature 'observation.state'"):
        load_checkpoint(ck)


def test_weights_from_another_config(tiny_checkpoint, tmp_path):
    ck = copy_ckpt(tiny_checkpoint, tmp_path / "ck")
    cfg = json.loads((ck / "config.json").read_text())
    cfg["dim_feedforward"] = 128
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="weights do not match"):
        load_checkpoint(ck)
