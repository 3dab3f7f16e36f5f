"""The `lerobot-train` command line for `act-tool train`, built by pure functions.

Defaults are those of our reference run. LeRobot's ACT preset supplies the optimizer (AdamW,
lr and weight decay from the policy config, gradient clip norm 10: `AdamWConfig.grad_clip_norm`);
LeRobot replaces any `--optimizer.*` with that preset unless `--use_policy_training_preset=false`
is given, so the clip norm is checked against LeRobot's preset rather than passed.
Any other LeRobot option can be passed through after `--`: it replaces the default of the same
name. Options that act-tool sets itself (the dataset, the run directory, resume, steps, batch
size, device, wandb) are refused there with the act-tool option to use instead. Fine-tuning
from a pretrained ACT policy (`-- --policy.path=...`) takes that policy's config: neither
`policy.type` nor the reference `policy.*` defaults are added then.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from act_tool.compat import StrEnum
from act_tool.policy.video_backend import video_backend
from act_tool.train.errors import TrainError

LEROBOT_TRAIN_MODULE = "act_tool.train.lerobot_entry"  # LeRobot's lerobot_train, frames in memory


class TrainDevice(StrEnum):
    """Where LeRobot trains (AUTO: a CUDA GPU when there is one, else the CPU)."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"
    MPS = "mps"


# The reference run (LeRobot option -> value). GRAD_CLIP_NORM comes from LeRobot's ACT preset.
REFERENCE_DEFAULTS: dict[str, str] = {
    "steps": "100000",
    "batch_size": "8",
    "seed": "1000",
    "policy.chunk_size": "100",
    "policy.n_action_steps": "100",
    "policy.optimizer_lr": "1e-05",
    "policy.optimizer_lr_backbone": "1e-05",
    "policy.optimizer_weight_decay": "0.0001",
}
GRAD_CLIP_NORM = 10.0

# LeRobot options that act-tool sets from its own options: passthrough key -> what to use.
OWNED: dict[str, str] = {
    "output_dir": "--output DIR",
    "resume": "--resume",
    "config_path": "--resume (with --output, the run to continue)",
    "dataset.repo_id": "--dataset REPO_ID",
    "dataset.root": "--dataset DIR",
    "steps": "--steps N",
    "batch_size": "--batch-size N",
    "policy.device": "--device",
    "wandb.enable": "--wandb",
}


@dataclass(frozen=True)
class TrainOptions:
    """What `act-tool train` was asked for. `steps`/`batch_size` None: the reference default
    (or, on resume, the run's own)."""

    output: Path
    dataset_repo_id: str | None = None
    dataset_root: Path | None = None  # None: a hub dataset
    steps: int | None = None
    batch_size: int | None = None
    resume: bool = False
    device: str = "auto"
    gpus: int = 1
    wandb: bool = False
    pretrained_backbone: bool = True
    bf16: bool = False  # BF16 autocast (LeRobot's policy.use_amp on the CPU); weights stay FP32
    extra: tuple[str, ...] = ()
    python: str = field(default=sys.executable)

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise TrainError("--steps must be at least 1")
        if self.batch_size is not None and self.batch_size < 1:
            raise TrainError("--batch-size must be at least 1")
        if self.gpus < 1:
            raise TrainError("--gpus must be at least 1")
        if self.device not in tuple(TrainDevice):
            choices = ", ".join(TrainDevice)
            raise TrainError(f"--device must be one of {choices}, not {self.device}")
        if self.gpus > 1 and self.device in ("cpu", "mps"):
            raise TrainError(f"--gpus {self.gpus} trains on CUDA GPUs; drop --device {self.device}")
        if not self.resume and self.dataset_repo_id is None:
            raise TrainError("--dataset is required (a local dataset directory or a hub repo id)")
        user = parse_passthrough(self.extra)  # raises on malformed or owned options
        if self.resume and "policy.path" in user:
            raise TrainError(
                "--resume continues the run from its own checkpoint: drop -- --policy.path "
                "(it starts a new run from a pretrained policy)"
            )
        if "policy.type" in user and (user["policy.type"] != "act" or "policy.path" in user):
            raise TrainError(
                f"-- --policy.type={user['policy.type']}: act-tool trains ACT policies, and "
                "--policy.path brings its own type; drop --policy.type"
            )

    @property
    def pretrained_policy(self) -> str | None:
        """`-- --policy.path=...`: the pretrained policy a new run starts from."""
        return parse_passthrough(self.extra).get("policy.path")

    @property
    def resume_config(self) -> Path:
        return self.output / "checkpoints" / "last" / "pretrained_model" / "train_config.json"


INTEGER_OPTIONS = ("log_freq",)  # passthrough values act-tool itself reads as numbers


def parse_passthrough(args: tuple[str, ...] | list[str]) -> dict[str, str]:
    """LeRobot options given after `--`: `--key=value` or `--key value` -> {key: value}."""
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--") or len(token) < 3:
            raise TrainError(
                f"cannot forward '{token}' to LeRobot: give LeRobot options as --key=value "
                "(e.g. -- --policy.dim_model=256)"
            )
        if "=" in token:
            key, value = token[2:].split("=", 1)
            i += 1
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            key, value = token[2:], args[i + 1]
            i += 2
        else:
            raise TrainError(f"LeRobot option {token} has no value: write {token}=VALUE")
        owned = OWNED.get(key.replace("-", "_"))
        if owned is not None:
            raise TrainError(
                f"--{key} is set by act-tool: use the act-tool option {owned} instead of "
                f"passing it after --"
            )
        out[key] = value
        if key in INTEGER_OPTIONS:
            int_value(out, key)
    return out


def int_value(user: dict[str, str], key: str) -> int:
    """A passthrough option that must be a whole number, as a clear error otherwise."""
    try:
        return int(user[key])
    except ValueError:
        raise TrainError(f"-- --{key}={user[key]}: expected a whole number") from None


def log_freq(steps: int) -> int:
    """Log often enough for a live progress bar on short runs; LeRobot's 200 on long ones."""
    return max(1, min(200, steps // 50))


def settings(options: TrainOptions) -> dict[str, str]:
    """LeRobot options (without the leading --) in order, passthrough applied last."""
    user = parse_passthrough(options.extra)
    s: dict[str, str] = {}
    if options.resume:
        s["config_path"] = str(options.resume_config)
        s["resume"] = "true"
        s["output_dir"] = str(options.output)  # the run may have been moved since
    else:
        if options.pretrained_policy is None:
            s["policy.type"] = "act"
            s.update(REFERENCE_DEFAULTS)
        else:  # the pretrained policy's config rules; the training defaults still apply
            s.update({k: v for k, v in REFERENCE_DEFAULTS.items() if not k.startswith("policy.")})
        s["output_dir"] = str(options.output)
        s["log_freq"] = str(log_freq(target_steps(options)))
        if "policy.chunk_size" in user and "policy.n_action_steps" not in user:
            # n_action_steps may not exceed chunk_size: follow the user's chunk.
            s["policy.n_action_steps"] = user["policy.chunk_size"]
    if options.dataset_repo_id is not None:
        s["dataset.repo_id"] = options.dataset_repo_id
        if options.dataset_root is not None:
            s["dataset.root"] = str(options.dataset_root)
        s["dataset.video_backend"] = video_backend()  # quietly: see policy/video_backend.py
    if options.steps is not None:
        s["steps"] = str(options.steps)
    if options.batch_size is not None:
        s["batch_size"] = str(options.batch_size)
    device = "cuda" if options.gpus > 1 else options.device
    if device != "auto":
        s["policy.device"] = device
    if not options.pretrained_backbone or options.resume or options.pretrained_policy:
        # A checkpoint holds its trained backbone: building the model first from ImageNet
        # weights would only need the file (or the network) for weights that are then replaced.
        s["policy.pretrained_backbone_weights"] = "null"
    if options.bf16 and not options.resume:
        s["policy.use_amp"] = "true"  # accelerate's CPU autocast picks BF16
    s["policy.push_to_hub"] = "false"
    s["wandb.enable"] = "true" if options.wandb else "false"
    s.update(user)
    return s


def build_command(options: TrainOptions) -> list[str]:
    """The full argument list: `python -m lerobot.scripts.lerobot_train ...`, or through
    `accelerate launch --multi_gpu --num_processes N` when training on several GPUs."""
    if options.gpus > 1:
        launcher = [
            options.python,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            f"--num_processes={options.gpus}",
            "-m",
            LEROBOT_TRAIN_MODULE,
        ]
    else:
        launcher = [options.python, "-m", LEROBOT_TRAIN_MODULE]
    return launcher + [f"--{k}={v}" for k, v in settings(options).items()]


def build_env(
    options: TrainOptions, base: dict[str, str], torch_home: Path | None
) -> dict[str, str]:
    """The subprocess environment: offline for local data, a private TORCH_HOME if given."""
    env = dict(base)
    if options.dataset_root is not None or (options.resume and options.dataset_repo_id is None):
        env["HF_HUB_OFFLINE"] = "1"
        env["HF_DATASETS_OFFLINE"] = "1"
    if not options.wandb:
        env["WANDB_MODE"] = "disabled"
    if torch_home is not None:
        env["TORCH_HOME"] = str(torch_home)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def target_steps(options: TrainOptions) -> int:
    """The step count a new run ends at (a resumed run: see runner.end_step)."""
    if options.steps is not None:
        return options.steps
    return int(REFERENCE_DEFAULTS["steps"])
