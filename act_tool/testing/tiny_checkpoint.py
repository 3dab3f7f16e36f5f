"""A small random ACT checkpoint, written exactly the way LeRobot writes one.

Tests and the demo need a real checkpoint without a download or a training run: this builds an
`ACTPolicy` with LeRobot's own classes, random weights and SO-101 features (six joints, a `front`
and a `handeye` camera), plus processors carrying plausible dataset statistics, and saves it with
LeRobot's own `save_pretrained` calls. `legacy=True` writes the LeRobot <= 0.3 layout instead:
normalization buffers inside model.safetensors and no processor files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from act_tool.robot_types import SO101_FOLLOWER


@dataclass(frozen=True)
class TinyConfig:
    """Sizes of the tiny policy. The defaults export and check in a few seconds on a CPU."""

    cameras: tuple[str, ...] = ("front", "handeye")
    height: int = 64
    width: int = 96
    dim_model: int = 32
    n_heads: int = 2
    dim_feedforward: int = 64
    n_encoder_layers: int = 2
    n_decoder_layers: int = 1
    latent_dim: int = 8
    n_vae_encoder_layers: int = 1
    chunk_size: int = 10
    n_action_steps: int = 10
    fps: int = 30
    seed: int = 0
    full_size: bool = False  # LeRobot's default transformer sizes (for benchmarks)


def joint_stats(rng, n: int) -> dict[str, list[float]]:
    """Plausible SO-101 statistics in degrees (gripper 0..100)."""

    mean = rng.uniform(-40, 40, n)
    std = rng.uniform(5, 30, n)
    mean[-1], std[-1] = 30.0, 15.0
    lo, hi = mean - 3 * std, mean + 3 * std
    return {
        "mean": mean.tolist(),
        "std": std.tolist(),
        "min": lo.tolist(),
        "max": hi.tolist(),
    }


def make_config(cfg: TinyConfig):
    """The ACTConfig for `cfg`, with no pretrained backbone (nothing is downloaded)."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig

    n = len(SO101_FOLLOWER.joints)
    inputs = {"observation.state": PolicyFeature(FeatureType.STATE, (n,))}
    for cam in cfg.cameras:
        inputs[f"observation.images.{cam}"] = PolicyFeature(
            FeatureType.VISUAL, (3, cfg.height, cfg.width)
        )
    sizes = {}
    if not cfg.full_size:
        sizes = dict(
            dim_model=cfg.dim_model,
            n_heads=cfg.n_heads,
            dim_feedforward=cfg.dim_feedforward,
            n_encoder_layers=cfg.n_encoder_layers,
            n_decoder_layers=cfg.n_decoder_layers,
            latent_dim=cfg.latent_dim,
            n_vae_encoder_layers=cfg.n_vae_encoder_layers,
        )
    return ACTConfig(
        input_features=inputs,
        output_features={"action": PolicyFeature(FeatureType.ACTION, (n,))},
        chunk_size=cfg.chunk_size,
        n_action_steps=cfg.n_action_steps,
        pretrained_backbone_weights=None,
        device="cpu",
        push_to_hub=False,
        **sizes,
    )


def make_stats(cfg: TinyConfig) -> dict[str, dict]:
    """Dataset statistics as LeRobot's training run hands them to the processors."""
    import numpy as np
    import torch
    from lerobot.utils.constants import IMAGENET_STATS

    rng = np.random.default_rng(cfg.seed + 1)
    n = len(SO101_FOLLOWER.joints)
    stats: dict[str, dict] = {
        "observation.state": joint_stats(rng, n),
        "action": joint_stats(rng, n),
    }
    for cam in cfg.cameras:
        # Training with the default use_imagenet_stats replaces camera statistics with ImageNet's.
        stats[f"observation.images.{cam}"] = {
            "mean": IMAGENET_STATS["mean"],
            "std": IMAGENET_STATS["std"],
            "min": [[[0.0]], [[0.0]], [[0.0]]],
            "max": [[[1.0]], [[1.0]], [[1.0]]],
        }
    return {
        key: {s: torch.tensor(v, dtype=torch.float32) for s, v in d.items()}
        for key, d in stats.items()
    }


def make_policy(cfg: TinyConfig):
    """A randomly initialised ACTPolicy; frozen batch-norm statistics are randomised too so the
    backbone is not an identity map."""
    import torch
    from lerobot.policies.act.modeling_act import ACTPolicy

    torch.manual_seed(cfg.seed)
    policy = ACTPolicy(make_config(cfg))
    with torch.no_grad():
        for name, buf in policy.named_buffers():
            if name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                buf.uniform_(-0.2, 0.2)
    return policy.eval()


def save_tiny_checkpoint(
    out_dir: Path, cfg: TinyConfig = TinyConfig(), legacy: bool = False
) -> Path:
    """Write a checkpoint to `out_dir` (a `pretrained_model/`-style directory) and return it."""
    from lerobot.policies.factory import make_pre_post_processors

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    policy = make_policy(cfg)
    stats = make_stats(cfg)
    if legacy:
        save_legacy(policy, stats, out_dir)
        return out_dir
    policy.save_pretrained(out_dir)
    pre, post = make_pre_post_processors(policy.config, dataset_stats=stats)
    pre.save_pretrained(out_dir)
    post.save_pretrained(out_dir)
    return out_dir


def save_legacy(policy, stats: dict, out_dir: Path) -> None:
    """The LeRobot <= 0.3 layout: `normalize_inputs.buffer_<feature with _>.<stat>` buffers
    (plus normalize_targets / unnormalize_outputs for the action) inside model.safetensors."""
    from safetensors.torch import save_file

    tensors = {k: v.contiguous() for k, v in policy.state_dict().items()}
    for key, d in stats.items():
        flat = key.replace(".", "_")
        prefixes = (
            ["normalize_targets", "unnormalize_outputs"]
            if key == "action"
            else ["normalize_inputs"]
        )
        for prefix in prefixes:
            for stat in ("mean", "std"):
                tensors[f"{prefix}.buffer_{flat}.{stat}"] = d[stat].clone().contiguous()
    save_file(tensors, str(out_dir / "model.safetensors"))
    policy.config._save_pretrained(out_dir)
    cfg_path = out_dir / "config.json"
    data = json.loads(cfg_path.read_text())
    # 0.3-era configs carry the normalization modes, no processor files.
    data["normalization_mapping"] = {
        "VISUAL": "MEAN_STD",
        "STATE": "MEAN_STD",
        "ACTION": "MEAN_STD",
    }
    cfg_path.write_text(json.dumps(data, indent=4))


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Write a tiny random ACT checkpoint (LeRobot layout).")
    ap.add_argument("output", type=Path)
    ap.add_argument("--legacy", action="store_true", help="LeRobot <= 0.3 layout")
    args = ap.parse_args()
    print(save_tiny_checkpoint(args.output, legacy=args.legacy))
