"""The pure `lerobot-train` argument builder: reference defaults, passthrough, offline flags."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from act_tool.train.command import (
    GRAD_CLIP_NORM,
    LEROBOT_TRAIN_MODULE,
    REFERENCE_DEFAULTS,
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
    assert target_steps(local(steps=5)) == 5


@pytest.mark.parametrize(
    "token, use",
    [
        ("--output_dir=/x", "--output DIR"),
        ("--resume=true", "--resume"),
        ("--config_path=/x/train_config.json", "--resume"),
        ("--dataset.repo_id=a/b", "--dataset REPO_ID"),
        ("--dataset.root=/d", "--dataset DIR"),
        ("--steps=abc", "--steps N"),
        ("--batch_size=4", "--batch-size N"),
        ("--batch-size=4", "--batch-size N"),
        ("--policy.device=cuda", "--device"),
        ("--wandb.enable=true", "--wandb"),
    ],
)
def test_options_act_tool_owns_are_refused_with_the_option_to_use(token, use):
    with pytest.raises(TrainError, match=f"set by act-tool: use the act-tool option {use}"):
        local(extra=(token,))


def test_non_numeric_log_freq_is_a_clear_error():
    with pytest.raises(TrainError, match="--log_freq=often: expected a whole number"):
        local(extra=("--log_freq=often",))


def test_fine_tuning_from_a_pretrained_policy_keeps_its_config():
    opts = local(extra=("--policy.path=/ckpt/pretrained_model",), steps=300)
    assert opts.pretrained_policy == "/ckpt/pretrained_model"
    a = args_of(build_command(opts))
    assert "policy.type" not in a  # LeRobot refuses --policy.path with --policy.type
    assert not any(k in a for k in REFERENCE_DEFAULTS if k.startswith("policy."))
    assert (a["steps"], a["batch_size"], a["seed"]) == ("300", "8", "1000")
    assert a["policy.path"] == "/ckpt/pretrained_model"
    assert a["policy.pretrained_backbone_weights"] == "null"  # the checkpoint has its backbone
    assert a["policy.push_to_hub"] == "false"


@pytest.mark.parametrize(
    "extra, kw, match",
    [
        (("--policy.path=/c", "--policy.type=act"), {}, "drop --policy.type"),
        (("--policy.type=diffusion",), {}, "trains ACT policies"),
        (("--policy.path=/c",), dict(resume=True), "drop -- --policy.path"),
    ],
)
def test_conflicting_policy_options(extra, kw, match):
    with pytest.raises(TrainError, match=match):
        TrainOptions(output=Path("/r"), dataset_repo_id="a/b", extra=extra, **kw)


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
    # The checkpoint holds the trained backbone: no ImageNet file needed to rebuild the model.
    assert a["policy.pretrained_backbone_weights"] == "null"


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


def lerobot_parses(cmd: list[str], monkeypatch):
    """The config LeRobot's own entry point builds from our arguments (parsed and validated as
    `lerobot_train.train` does, without training)."""
    from lerobot.configs import parser
    from lerobot.configs.train import TrainPipelineConfig

    assert cmd[1:3] == ["-m", LEROBOT_TRAIN_MODULE]

    def identity(cfg):
        return cfg

    identity.__annotations__["cfg"] = TrainPipelineConfig  # parser.wrap reads the real class
    parse = parser.wrap()(identity)
    monkeypatch.setattr(sys, "argv", ["lerobot-train", *cmd[3:]])
    cfg = parse()
    cfg.validate()
    return cfg


def test_lerobot_accepts_the_fine_tuning_command(tiny_checkpoint, tmp_path, monkeypatch):
    """A policy trained from ImageNet weights: its config names them, the command drops them."""
    ckpt = Path(shutil.copytree(tiny_checkpoint, tmp_path / "pretrained_model"))
    saved = json.loads((ckpt / "config.json").read_text())
    saved["pretrained_backbone_weights"] = "ResNet18_Weights.IMAGENET1K_V1"
    (ckpt / "config.json").write_text(json.dumps(saved))
    opts = TrainOptions(
        output=tmp_path / "run",
        dataset_repo_id="local/ds",
        dataset_root=tmp_path / "ds",
        extra=(f"--policy.path={ckpt}",),
    )
    cfg = lerobot_parses(build_command(opts), monkeypatch)
    assert cfg.policy.type == "act" and cfg.policy.pretrained_path == ckpt
    assert cfg.policy.chunk_size == saved["chunk_size"] != 100  # not the reference default
    assert cfg.policy.pretrained_backbone_weights is None
    assert (cfg.steps, cfg.batch_size, cfg.seed) == (100_000, 8, 1000)


def test_lerobot_accepts_the_resume_command(tmp_path, monkeypatch):
    """Resuming reads the run's train_config.json and still takes our backbone override."""
    pytest.importorskip("lerobot")
    from lerobot.configs.default import DatasetConfig
    from lerobot.configs.train import TrainPipelineConfig
    from lerobot.policies.act.configuration_act import ACTConfig

    run = tmp_path / "run"
    opts = TrainOptions(output=run, resume=True, steps=20)
    ckpt = opts.resume_config.parent
    ckpt.mkdir(parents=True)
    policy = ACTConfig(dim_model=32, device="cpu", push_to_hub=False)
    assert policy.pretrained_backbone_weights is not None
    TrainPipelineConfig(
        dataset=DatasetConfig(repo_id="local/ds", root=str(tmp_path / "ds")),
        policy=policy,
        output_dir=run,
        steps=10,
        batch_size=4,
    )._save_pretrained(ckpt)
    cfg = lerobot_parses(build_command(opts), monkeypatch)
    assert cfg.resume and cfg.checkpoint_path == ckpt.parent
    assert cfg.policy.dim_model == 32 and cfg.batch_size == 4  # the run's own config
    assert cfg.steps == 20 and cfg.policy.pretrained_backbone_weights is None


def test_bf16_is_lerobots_cpu_autocast():
    """--bf16 in LeRobot's loop is LeRobot's own policy.use_amp (accelerate's CPU autocast picks
    BF16); a resumed run keeps what its config says."""
    assert args_of(build_command(local(bf16=True, device="cpu")))["policy.use_amp"] == "true"
    assert "policy.use_amp" not in args_of(build_command(local(device="cpu")))
