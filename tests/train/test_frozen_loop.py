"""The frozen-backbone loop: LeRobot's features and loss from the cache, a run that trains,
resumes and exports through the parity gate, and the options it refuses."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("lerobot")

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from act_tool.train.command import TrainOptions, settings  # noqa: E402
from act_tool.train.cpu_features import bf16_supported  # noqa: E402
from act_tool.train.errors import TrainError  # noqa: E402
from act_tool.train.frozen_loop import (  # noqa: E402
    CachedFeatures,
    build_feature_cache,
    parse_train_config,
)
from act_tool.train.frozen_marker import FROZEN_MARKER  # noqa: E402
from act_tool.train.runner import TrainRequest, checkpoint_step, run_training  # noqa: E402

from .conftest import TINY_POLICY  # noqa: E402

pytestmark = pytest.mark.slow


def test_cached_features_and_loss_are_lerobots(synth_dataset, tiny_backbone, tmp_path):
    from lerobot.datasets.factory import make_dataset
    from lerobot.policies import make_policy, make_pre_post_processors

    from act_tool.train.twin_backbone import install_backbone

    options = TrainOptions(output=tmp_path / "run", dataset_repo_id="local/s",
                           dataset_root=synth_dataset, device="cpu", pretrained_backbone=False,
                           extra=TINY_POLICY)  # fmt: skip
    cfg = parse_train_config(settings(options))
    dataset = make_dataset(cfg)
    policy = make_policy(cfg=cfg.policy, ds_meta=dataset.meta)
    install_backbone(policy, tiny_backbone[0], {k: tuple(f.shape[1:])
                                                for k, f in cfg.policy.image_features.items()})  # fmt: skip
    pre, _ = make_pre_post_processors(policy_cfg=cfg.policy, dataset_stats=dataset.meta.stats)
    cache = build_feature_cache(cfg, dataset, pre, policy.model.backbone, tmp_path / "features",
                                log=lambda _: None)  # fmt: skip
    assert len(cache["action"]) == len(dataset) == 40
    # LeRobot's way: the dataset's first batch (the cache's own first batch: same frames, same
    # batch, same kernels, so bitwise equal), preprocessed, through the real backbone.
    batch = pre(next(iter(torch.utils.data.DataLoader(dataset, batch_size=32))))
    with torch.no_grad():
        for cam in cfg.policy.image_features:
            assert torch.equal(cache[cam][:32], policy.model.backbone(batch[cam])["feature_map"])
    for key in ("observation.state", "action", "action_is_pad"):
        assert torch.equal(cache[key][:32], batch[key])
    real = policy.model.backbone
    policy.train()
    torch.manual_seed(5)  # the VAE's sample and dropout: the same draws on both paths
    want, _ = policy.forward(batch)
    policy.model.backbone = CachedFeatures()
    torch.manual_seed(5)
    got, _ = policy.forward({k: v[:32] for k, v in cache.items()})
    assert torch.equal(got, want)  # the same operations on the same tensors
    # A second build reuses the file; another backbone builds another.
    lines: list[str] = []
    build_feature_cache(cfg, dataset, pre, real, tmp_path / "features", lines.append)
    assert any("reusing" in line for line in lines)
    with torch.no_grad():
        real.conv1.weight.mul_(0.5)
    build_feature_cache(cfg, dataset, pre, real, tmp_path / "features", lines.append)
    assert sum("reusing" in line for line in lines) == 1
    assert len(list((tmp_path / "features").glob("*.pt"))) == 2


@pytest.fixture(scope="module")
def frozen_run(synth_dataset, tiny_backbone, tmp_path_factory):
    out = tmp_path_factory.mktemp("frozen") / "run"
    lines: list[str] = []
    result = run_training(
        TrainRequest(output=out, dataset=str(synth_dataset), steps=3, batch_size=4, device="cpu",
                     backbone=tiny_backbone[0], freeze_backbone=True, bf16=bf16_supported(),
                     extra=(*TINY_POLICY, "--policy.optimizer_lr=1e-3")),
        log=lines.append,
    )  # fmt: skip
    return result, lines


def test_frozen_run_keeps_the_backbone_and_trains_the_rest(frozen_run, tiny_backbone):
    result, lines = frozen_run
    assert result.step == 3 == checkpoint_step(result.output)
    marker = json.loads((result.output / FROZEN_MARKER).read_text())
    assert marker["backbone"] == str(tiny_backbone[0])
    weights = load_file(str(result.checkpoint / "model.safetensors"))
    backbone = load_file(str(tiny_backbone[0]))
    for key, value in backbone.items():
        assert torch.equal(weights[f"model.backbone.{key}"], value), key
    assert all(v.dtype == torch.float32 for v in weights.values())  # BF16 or not: FP32 saved
    cfg = json.loads((result.checkpoint / "config.json").read_text())
    assert cfg["type"] == "act" and cfg["dim_model"] == 32
    assert any("step 3/3" in line for line in lines)


def test_frozen_run_resumes_in_its_own_loop(frozen_run, tmp_path):
    import shutil

    result, _ = frozen_run
    run = tmp_path / "copy"
    shutil.copytree(result.output, run, symlinks=True)
    lines: list[str] = []
    resumed = run_training(TrainRequest(output=run, resume=True, steps=5, device="cpu"),
                           log=lines.append)  # fmt: skip
    assert resumed.step == 5 == checkpoint_step(run)
    assert any("reusing" in line for line in lines)  # the features were not computed again
    assert any("resuming at step 3" in line for line in lines)


def test_frozen_checkpoint_exports_through_the_parity_gate(frozen_run, tmp_path):
    pytest.importorskip("onnx")
    from act_tool.export.pipeline import ExportOptions, run_export

    result, _ = frozen_run
    out = run_export(ExportOptions(result.checkpoint, tmp_path / "export", builder="onnx"))
    assert [p.name for p in out.artifacts] == ["act.onnx"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"freeze_backbone": True}, "must start trained"),
        ({"bf16": True, "device": "auto"}, "--bf16 is for CPU training"),
        ({"backbone": "b.safetensors", "backbone_weights": "w.pth"}, "give one"),
        ({"backbone": "b.safetensors", "extra": ("--policy.path=p",)}, "drop -- --policy.path"),
    ],
)
def test_contradictory_options_fail_before_training(synth_dataset, tmp_path, kwargs, message):
    kwargs = {"device": "cpu", "extra": TINY_POLICY, **kwargs}
    request = TrainRequest(output=tmp_path / "run", dataset=str(synth_dataset), steps=1, **kwargs)
    with pytest.raises(TrainError, match=message):
        run_training(request, log=lambda _: None)
    assert not (tmp_path / "run").exists()


def test_a_wrong_backbone_file_fails_before_the_dataset_is_read(synth_dataset, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    request = TrainRequest(output=tmp_path / "run", dataset=str(synth_dataset), steps=1,
                           device="cpu", backbone=bad, freeze_backbone=True, extra=TINY_POLICY)  # fmt: skip
    with pytest.raises(TrainError, match="cannot be read as safetensors"):
        run_training(request, log=lambda _: None)


def test_lerobots_own_loop_starts_from_a_twin_backbone(synth_dataset, tiny_backbone, tmp_path):
    """Without --freeze-backbone, LeRobot's trainer starts from a policy holding the twin
    backbone: with the backbone's learning rate at zero its weights and statistics arrive in
    the checkpoint unchanged, while the rest of the policy trains."""
    lines: list[str] = []
    result = run_training(
        TrainRequest(output=tmp_path / "run", dataset=str(synth_dataset), steps=2, batch_size=4,
                     device="cpu", backbone=tiny_backbone[0],
                     extra=(*TINY_POLICY, "--policy.optimizer_lr_backbone=0",
                            "--policy.optimizer_lr=1e-3")),
        log=lines.append, write=lines.append, interactive=False,
    )  # fmt: skip
    assert result.step == 2 and not result.frozen
    assert not (result.output / FROZEN_MARKER).exists()  # LeRobot's loop, not the frozen one
    assert any("installed in the starting policy" in line for line in lines)
    weights = load_file(str(result.checkpoint / "model.safetensors"))
    backbone = load_file(str(tiny_backbone[0]))
    for key, value in backbone.items():
        assert torch.equal(weights[f"model.backbone.{key}"], value), key
    cfg = json.loads((result.checkpoint / "config.json").read_text())
    assert cfg["dim_model"] == 32 and cfg["pretrained_backbone_weights"] is None
