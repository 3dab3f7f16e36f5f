"""The pure `lerobot-train` argument builder: reference defaults, passthrough, offline flags."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from act_tool.train.command import (
    GRAD_CLIP_NORM,
    LEROBOT_TRAIN_MODULE,
    TrainOptions,
    build_command,
    build_env,
    parse_passthrough,
    target_steps,
)
from act_tool.train.errors import TrainError


def args_of(cmd: list[str]) -> dict[str, str]:
    out = {}
    for token in cmd:
        if token.startswith("--") and "=" in token:
            key, value = token[2:].split("=", 1)
            out[key] = value
    return out


def local(**kw) -> TrainOptions:
    return TrainOptions(
        output=Path("/runs/a"), dataset_repo_id="local/ds", dataset_root=Path("/data/ds"), **kw
    )


def test_reference_defaults():
    cmd = build_command(local())
    assert cmd[:3] == [sys.executable, "-m", LEROBOT_TRAIN_MODULE]
    a = args_of(cmd)
    assert a["policy.type"] == "act"
    assert int(a["steps"]) == 100_000
    assert int(a["batch_size"]) == 8
    assert float(a["policy.optimizer_lr"]) == 1e-5
    assert float(a["policy.optimizer_lr_backbone"]) == 1e-5
    assert float(a["policy.optimizer_weight_decay"]) == 1e-4
    assert int(a["seed"]) == 1000
    assert int(a["policy.chunk_size"]) == 100
    assert int(a["policy.n_action_steps"]) == 100
    assert a["dataset.repo_id"] == "local/ds"
    assert a["dataset.root"] == "/data/ds"
    assert a["output_dir"] == "/runs/a"
    assert "policy.device" not in a  # auto: LeRobot picks


def test_grad_clip_comes_from_lerobots_act_preset():
    pytest.importorskip("lerobot")
    from lerobot.policies.act.configuration_act import ACTConfig

    preset = ACTConfig().get_optimizer_preset()
    assert preset.grad_clip_norm == GRAD_CLIP_NORM == 10.0
    assert preset.lr == 1e-5 and preset.weight_decay == 1e-4


def test_offline_flags_and_wandb():
    a = args_of(build_command(local()))
    assert a["policy.push_to_hub"] == "false"
    assert a["wandb.enable"] == "false"
    assert args_of(build_command(local(wandb=True)))["wandb.enable"] == "true"
    env = build_env(local(), {"PATH": "/bin"}, None)
    assert env["HF_HUB_OFFLINE"] == "1" and env["WANDB_MODE"] == "disabled"
    assert "TORCH_HOME" not in env
    assert build_env(local(), {}, Path("/tmp/th"))["TORCH_HOME"] == "/tmp/th"
    hub = TrainOptions(output=Path("/r"), dataset_repo_id="lerobot/svla_so101_pickplace")
    assert "HF_HUB_OFFLINE" not in build_env(hub, {}, None)  # the hub dataset must download
    assert "dataset.root" not in args_of(build_command(hub))


def test_first_class_options_and_backbone():
    a = args_of(build_command(local(steps=50, batch_size=2, device="cpu")))
    assert (a["steps"], a["batch_size"], a["policy.device"]) == ("50", "2", "cpu")
    assert a["log_freq"] == "1"
    assert "policy.pretrained_backbone_weights" not in a
    a = args_of(build_command(local(pretrained_backbone=False)))
    assert a["policy.pretrained_backbone_weights"] == "null"


def test_passthrough_replaces_defaults_and_is_forwarded():
    extra = ("--policy.dim_model=64", "--policy.chunk_size", "10", "--seed=7")
    cmd = build_command(local(extra=extra))
    a = args_of(cmd)
    assert a["policy.dim_model"] == "64"
    assert a["policy.chunk_size"] == "10"
    assert a["policy.n_action_steps"] == "10"  # follows the user's chunk
    assert a["seed"] == "7"
    assert sum(t.startswith("--seed=") for t in cmd) == 1
    assert target_steps(local(extra=("--steps=5",))) == 5


@pytest.mark.parametrize("bad", [("policy.dim_model=3",), ("--policy.dim_model",), ("-x",)])
def test_malformed_passthrough(bad):
    with pytest.raises(TrainError):
        parse_passthrough(bad)


def test_multi_gpu_goes_through_accelerate():
    cmd = build_command(local(gpus=4))
    i = cmd.index("accelerate.commands.launch")
    assert cmd[i + 1 : i + 5] == ["--multi_gpu", "--num_processes=4", "-m", LEROBOT_TRAIN_MODULE]
    assert args_of(cmd)["policy.device"] == "cuda"
    with pytest.raises(TrainError, match="CUDA"):
        local(gpus=2, device="cpu")


def test_resume_command():
    opts = TrainOptions(output=Path("/runs/a"), resume=True, steps=20)
    a = args_of(build_command(opts))
    assert a["resume"] == "true"
    assert a["config_path"] == "/runs/a/checkpoints/last/pretrained_model/train_config.json"
    assert a["steps"] == "20" and a["output_dir"] == "/runs/a"
    assert "policy.type" not in a and "batch_size" not in a  # the run's own config rules
    assert a["policy.push_to_hub"] == "false"


@pytest.mark.parametrize(
    "kw",
    [
        dict(steps=0),
        dict(batch_size=0),
        dict(gpus=0),
        dict(device="tpu"),
    ],
)
def test_invalid_options(kw):
    with pytest.raises(TrainError):
        local(**kw)


def test_dataset_required_without_resume():
    with pytest.raises(TrainError, match="--dataset"):
        TrainOptions(output=Path("/r"))
