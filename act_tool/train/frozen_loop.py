"""LeRobot's ACT training with the backbone frozen, its features computed once per frame.

With the backbone frozen, what it computes for a frame never changes, so this loop runs it once
per frame of the dataset and trains everything after it (projections, transformer, VAE encoder,
action head) on those features: on a CPU a step then costs the transformer's arithmetic only,
tens of times less than LeRobot's step, which runs ResNet18 forward on every image of every
batch. Everything else is LeRobot's own: the config (`lerobot-train`'s options, parsed by its
parser), the dataset and its action chunks, the pre- and postprocessor with their statistics,
`ACTPolicy.forward` and its loss, the optimizer preset, gradient clipping and the checkpoint
layout (`save_checkpoint`, `checkpoints/last`), so `act-tool export` and `--resume` read these
runs as any other. The result equals LeRobot's training with the backbone's parameters set to
`requires_grad=False` (LeRobot itself trains the backbone, at `optimizer_lr_backbone`; gradient
clipping then sees the other parameters only). Written by hand because LeRobot has no frozen
mode and no feature caching.

Exact, not approximate: ACT applies no image augmentation by default, and the frozen backbone
(FrozenBatchNorm2d, no dropout) gives the same features in training and inference; runs that
ask for image transforms are refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from act_tool.train.errors import TrainError
from act_tool.train.frozen_marker import FROZEN_MARKER
from act_tool.train.fused_adamw import choose_adamw_kernel

CACHE_VERSION = 1


def feature_cache_dir(env: dict[str, str] | None = None) -> Path:
    """Where computed features are kept, one file per dataset, backbone and chunk size, so
    runs that differ only in the policy's other settings share them: $ACT_TOOL_FEATURE_CACHE,
    else $XDG_CACHE_HOME/act-tool/features (~/.cache/act-tool/features)."""
    env = dict(os.environ) if env is None else env
    if env.get("ACT_TOOL_FEATURE_CACHE"):
        return Path(env["ACT_TOOL_FEATURE_CACHE"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(base).expanduser() / "act-tool" / "features"


class CachedFeatures(nn.Module):
    """Stands in for ACT's backbone: the 'image' it is given is already layer4's map."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"feature_map": x}


@dataclass(frozen=True)
class FrozenRun:
    output: Path
    step: int
    seconds: float  # the steps' wall time (checkpoints included)
    cache_seconds: float  # computing (or loading) every frame's features
    step_ms: float  # mean wall time of one optimizer step


def parse_train_config(settings: dict[str, str]):
    """LeRobot's TrainPipelineConfig from `lerobot-train` options, through LeRobot's parser."""
    import lerobot.policies  # noqa: F401  (registers the policy types the parser chooses from)
    from lerobot.configs import parser
    from lerobot.configs.train import TrainPipelineConfig

    args = [f"--{k}={v}" for k, v in settings.items()]
    saved = sys.argv
    sys.argv = ["lerobot-train", *args]  # LeRobot's parser reads path options from argv
    try:

        def _parse(cfg):
            cfg.validate()
            return cfg

        _parse.__annotations__["cfg"] = TrainPipelineConfig  # the parser reads the real type
        return parser.wrap()(_parse)()
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        raise TrainError(f"LeRobot refused the training options: {e}") from e
    except SystemExit as e:  # draccus's usage error (an unknown option): printed above
        raise TrainError(
            "LeRobot's option parser refused the options after -- (its message is above)"
        ) from e
    finally:
        sys.argv = saved


def backbone_digest(backbone: nn.Module) -> str:
    h = hashlib.sha256()
    for key, value in sorted(backbone.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def _cache_meta(cfg, dataset, digest: str) -> dict:
    return {
        "version": CACHE_VERSION,
        "dataset": str(Path(dataset.root).resolve()),
        "frames": len(dataset),
        "episodes": dataset.num_episodes,
        "chunk_size": cfg.policy.chunk_size,
        "cameras": list(cfg.policy.image_features),
        "episode_selection": cfg.dataset.episodes,
        "normalization": {str(k): str(v) for k, v in cfg.policy.normalization_mapping.items()},
        "backbone": digest,
        "stats": hashlib.sha256(
            json.dumps(
                {k: {s: v.tolist() for s, v in d.items()} for k, d in dataset.meta.stats.items()},
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest(),
    }


@torch.no_grad()
def build_feature_cache(
    cfg, dataset, preprocessor, backbone: nn.Module, folder: Path, log: Callable[[str], None]
) -> dict[str, torch.Tensor]:
    """Every frame's normalized state, action chunk, padding and each camera's layer4 map,
    in dataset order; reused from `folder` when built from the same inputs before."""
    meta = _cache_meta(cfg, dataset, backbone_digest(backbone))
    key = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:20]
    path = folder / f"{key}.pt"
    if path.is_file():
        try:
            saved = torch.load(path, weights_only=True, map_location="cpu")
            if json.loads(saved.pop("_meta_json_bytes").numpy().tobytes()) == meta:
                log(f"features: reusing {path}")
                return saved
        except (OSError, RuntimeError, KeyError, ValueError) as e:
            log(f"features: {path} is unreadable ({e}); rebuilding")
    folder.mkdir(parents=True, exist_ok=True)
    from lerobot.utils.constants import ACTION, OBS_STATE

    from act_tool.train.frame_source import in_memory_frames

    cameras = list(cfg.policy.image_features)
    t0 = time.perf_counter()
    source = in_memory_frames(dataset, log) or dataset  # the same items, decoded once
    loader = torch.utils.data.DataLoader(
        source, batch_size=32, shuffle=False, num_workers=cfg.num_workers, drop_last=False
    )
    parts: dict[str, list[torch.Tensor]] = {
        k: [] for k in [*cameras, OBS_STATE, ACTION, "action_is_pad"]
    }
    backbone.eval()
    done = 0
    for batch in loader:
        batch = preprocessor(batch)
        for cam in cameras:
            parts[cam].append(backbone(batch[cam])["feature_map"].contiguous())
        for key in (OBS_STATE, ACTION, "action_is_pad"):
            parts[key].append(batch[key])
        done += len(batch[ACTION])
        if done % 3200 < 32:
            log(f"features: {done}/{len(dataset)} frames ({time.perf_counter() - t0:.0f} s)")
    cache = {k: torch.cat(v) for k, v in parts.items()}
    part = path.with_name(path.name + f".part{os.getpid()}")
    blob = torch.frombuffer(bytearray(json.dumps(meta).encode()), dtype=torch.uint8)
    try:
        torch.save({**cache, "_meta_json_bytes": blob}, part)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    log(f"features: {len(dataset)} frames in {time.perf_counter() - t0:.0f} s")
    return cache


def _check_supported(cfg) -> None:
    if cfg.policy.type != "act":
        raise TrainError(f"the frozen-backbone loop trains ACT policies, not {cfg.policy.type}")
    if cfg.dataset.image_transforms.enable:
        raise TrainError(
            "--freeze-backbone computes each frame's features once, so image augmentation "
            "(dataset.image_transforms.enable) cannot apply; drop one of them"
        )
    if cfg.policy.n_obs_steps != 1:
        raise TrainError("--freeze-backbone supports ACT's single observation step only")


def train_frozen(
    settings: dict[str, str],
    backbone_file: Path | None,
    resume: bool,
    bf16: bool = False,
    log: Callable[[str], None] = print,
) -> FrozenRun:
    """Trains as `lerobot-train` with `settings` would, with the backbone frozen (see module)."""
    logging.getLogger("lerobot.utils.import_utils").setLevel(logging.ERROR)
    from lerobot.common.train_utils import (
        get_step_checkpoint_dir,
        load_training_state,
        save_checkpoint,
        should_save_checkpoint,
        update_last_checkpoint,
    )
    from lerobot.datasets.factory import make_dataset
    from lerobot.optim.factory import make_optimizer_and_scheduler
    from lerobot.policies import make_policy, make_pre_post_processors
    from lerobot.utils.random_utils import set_seed

    if bf16:
        from act_tool.train.cpu_features import require_bf16

        require_bf16()
    cfg = parse_train_config(settings)
    _check_supported(cfg)
    if cfg.seed is not None:
        set_seed(cfg.seed)
    output = Path(cfg.output_dir)
    dataset = make_dataset(cfg)
    policy = make_policy(cfg=cfg.policy, ds_meta=dataset.meta)
    if not cfg.policy.image_features:
        raise TrainError("--freeze-backbone needs a dataset with cameras")
    preprocessor, postprocessor = make_pre_post_processors(
        policy_cfg=cfg.policy, pretrained_path=cfg.policy.pretrained_path,
        **_processor_kwargs(cfg, policy, dataset, resume),
    )  # fmt: skip
    if backbone_file is not None and not resume:
        from act_tool.train.twin_backbone import install_backbone

        shapes = {k: tuple(f.shape[1:]) for k, f in cfg.policy.image_features.items()}
        meta = install_backbone(policy, backbone_file, shapes)
        log(f"backbone: {backbone_file} (cube located within "
            f"{_errors_cm(meta)} on unseen layouts)")  # fmt: skip
    output.mkdir(parents=True, exist_ok=True)
    if not resume:
        marker = {"backbone": str(backbone_file) if backbone_file else None, "bf16": bf16}
        (output / FROZEN_MARKER).write_text(json.dumps(marker) + "\n")
    real_backbone = policy.model.backbone
    t_cache = time.perf_counter()
    cache = build_feature_cache(cfg, dataset, preprocessor, real_backbone, feature_cache_dir(), log)
    cache_seconds = time.perf_counter() - t_cache
    policy.model.backbone = CachedFeatures()
    optimizer, scheduler = make_optimizer_and_scheduler(cfg, policy)
    choose_adamw_kernel(optimizer)  # the same AdamW, PyTorch's fused CPU kernel (fused_adamw.py)
    step = 0
    if resume:
        step, optimizer, scheduler = load_training_state(cfg.checkpoint_path, optimizer, scheduler)
        choose_adamw_kernel(optimizer)  # loading put back the checkpoint's own settings
        log(f"resuming at step {step}")
    elif cfg.seed is not None:
        set_seed(cfg.seed)  # the same draws (VAE, dropout) whether the cache was built or reused
    policy.train()
    n = len(cache["action"])
    per_epoch = n // cfg.batch_size
    if per_epoch < 1:
        raise TrainError(f"{n} frames is fewer than one batch of {cfg.batch_size}")
    # Epoch e visits the frames in the order seeded by (seed, e), so a resumed run continues
    # the order it stopped in.
    epoch, cursor = divmod(step, per_epoch)
    cursor *= cfg.batch_size
    order = _epoch_order(n, cfg.seed, epoch)
    t0 = time.perf_counter()
    first = step
    clip = cfg.optimizer.grad_clip_norm
    losses: list[float] = []
    while step < cfg.steps:
        if cursor + cfg.batch_size > n:
            epoch, cursor = epoch + 1, 0
            order = _epoch_order(n, cfg.seed, epoch)
        idx = order[cursor : cursor + cfg.batch_size]
        cursor += cfg.batch_size
        batch = {k: v[idx] for k, v in cache.items()}
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = policy.forward(batch)
        loss.backward()
        if clip > 0:
            nn.utils.clip_grad_norm_(policy.parameters(), clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()
        step += 1
        losses.append(float(loss.detach()))
        if step % cfg.log_freq == 0 or step == cfg.steps:
            recent = losses[-cfg.log_freq :]
            log(f"step {step}/{cfg.steps} loss {sum(recent) / len(recent):.4f} "
                f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip
        if cfg.save_checkpoint and should_save_checkpoint(step, cfg.save_freq, cfg.steps):
            policy.model.backbone = real_backbone
            try:
                folder = get_step_checkpoint_dir(output, cfg.steps, step)
                save_checkpoint(folder, step, cfg, policy, optimizer, scheduler,
                                preprocessor, postprocessor, batch_size=cfg.batch_size)  # fmt: skip
                update_last_checkpoint(folder)
                log(f"checkpoint: {folder}")
            finally:
                policy.model.backbone = CachedFeatures()
    seconds = time.perf_counter() - t0
    policy.model.backbone = real_backbone
    return FrozenRun(output, step, seconds, cache_seconds, 1000 * seconds / max(1, step - first))


def _epoch_order(n: int, seed: int | None, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed((seed or 0) * 100003 + epoch))


def _processor_kwargs(cfg, policy, dataset, resume: bool) -> dict:
    """make_pre_post_processors' arguments as lerobot_train builds them: a new run normalizes
    with this dataset's statistics, also when it starts from a pretrained policy."""
    if cfg.policy.pretrained_path is None:
        return {"dataset_stats": dataset.meta.stats}
    if resume:
        return {}
    features = {**policy.config.input_features, **policy.config.output_features}
    norm = policy.config.normalization_mapping
    return {
        "dataset_stats": dataset.meta.stats,
        "preprocessor_overrides": {
            "device_processor": {"device": "cpu"},
            "normalizer_processor": {"stats": dataset.meta.stats, "features": features,
                                     "norm_map": norm},
        },
        "postprocessor_overrides": {
            "unnormalizer_processor": {"stats": dataset.meta.stats,
                                       "features": policy.config.output_features,
                                       "norm_map": norm},
        },
    }  # fmt: skip


def _errors_cm(meta: dict) -> str:
    errors = meta.get("result", {}).get("val_cube_error_m", {})
    return ", ".join(f"{v * 100:.1f} cm ({k})" for k, v in errors.items()) or "not measured"
