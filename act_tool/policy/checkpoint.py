"""Find, validate and load a LeRobot ACT checkpoint, new (processor files) or old (<= 0.3) layout.

Nothing is downloaded: the config is built with no pretrained backbone before the weights load.
Every problem is a CheckpointError that names the file and says what to do.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.errors import CheckpointError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
PREPROCESSOR = "policy_preprocessor.json"
POSTPROCESSOR = "policy_postprocessor.json"
LEGACY_PREFIXES = ("normalize_inputs.", "normalize_targets.", "unnormalize_outputs.")
STAT_NAMES = {
    "MEAN_STD": ("mean", "std"),
    "MIN_MAX": ("min", "max"),
    "QUANTILES": ("q01", "q99"),
    "QUANTILE10": ("q10", "q90"),
    "IDENTITY": (),
}


@dataclass
class Checkpoint:
    """A loaded checkpoint: LeRobot's policy and processors plus the numbers export needs."""

    path: Path
    layout: str  # "processors" (LeRobot >= 0.4) or "legacy" (stats inside model.safetensors)
    config: Any  # lerobot ACTConfig
    policy: Any  # lerobot ACTPolicy, eval mode, CPU, float32
    preprocessor: Any
    postprocessor: Any
    stats: dict[str, dict[str, np.ndarray]]  # feature -> stat -> float64 array
    norm_modes: dict[str, str]  # feature -> "MEAN_STD" | "MIN_MAX" | ...
    eps: float = 1e-8
    notes: list[str] = field(default_factory=list)

    @property
    def camera_keys(self) -> list[str]:
        return list(self.config.image_features)

    @property
    def state_key(self) -> str | None:
        return "observation.state" if self.config.robot_state_feature else None


def resolve_checkpoint_dir(path: Path) -> Path:
    """The `pretrained_model/` directory for a pretrained_model dir, a training output dir or a
    `checkpoints/<step>` / `checkpoints/last` dir."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(
            f"{path}: no such file or directory. Pass a LeRobot checkpoint folder."
        )
    if path.is_file():
        if path.name in (CONFIG, WEIGHTS):
            return resolve_checkpoint_dir(path.parent)
        raise CheckpointError(
            f"{path}: is a file. Pass the checkpoint folder (the one holding {CONFIG} and {WEIGHTS})."
        )
    for candidate in (
        path,
        path / "pretrained_model",
        path / "checkpoints" / "last" / "pretrained_model",
    ):
        if (candidate / CONFIG).is_file():
            return candidate
    steps = sorted((path / "checkpoints").glob("*/pretrained_model/" + CONFIG))
    if steps:
        return steps[-1].parent
    raise CheckpointError(
        f"{path}: not an ACT checkpoint: no {CONFIG} here, in pretrained_model/, or in "
        "checkpoints/last/pretrained_model/. Pass a LeRobot training output, a checkpoints/<step> "
        "folder, or a pretrained_model/ folder."
    )


def read_json(file: Path) -> dict:
    if not file.is_file():
        raise CheckpointError(f"{file}: missing. The checkpoint is incomplete; copy it again.")
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(
            f"{file}: not valid JSON ({e}). The file is damaged or truncated."
        ) from e
    if not isinstance(data, dict):
        raise CheckpointError(f"{file}: expected a JSON object.")
    return data


def read_safetensors(file: Path) -> dict[str, Any]:
    """All tensors of a safetensors file (as torch tensors), or a CheckpointError naming it."""
    from safetensors.torch import load_file

    if not file.is_file():
        raise CheckpointError(f"{file}: missing. The checkpoint is incomplete; copy it again.")
    try:
        return load_file(str(file))
    except Exception as e:  # safetensors raises its own SafetensorError and OSError variants
        raise CheckpointError(
            f"{file}: cannot be read as safetensors ({e}). The file is damaged or truncated; "
            "copy the checkpoint again."
        ) from e


def load_config(ckpt_dir: Path, notes: list[str]):
    """The ACTConfig of `ckpt_dir`, built for CPU with no pretrained backbone."""
    import draccus
    from lerobot.policies.act.configuration_act import ACTConfig

    file = ckpt_dir / CONFIG
    data = read_json(file)
    kind = data.pop("type", None)
    if kind != "act":
        raise CheckpointError(
            f"{file}: policy type is {kind!r}, not 'act'. act-tool exports ACT policies only."
        )
    known = {f.name for f in dataclasses.fields(ACTConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        notes.append(f"ignored config fields unknown to LeRobot 0.6.1: {', '.join(unknown)}")
    data = {k: v for k, v in data.items() if k in known}
    data.update(pretrained_backbone_weights=None, device="cpu", push_to_hub=False, use_amp=False)
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / CONFIG
        clean.write_text(json.dumps(data))
        try:
            config = draccus.parse(ACTConfig, str(clean), args=[])
        except Exception as e:
            raise CheckpointError(f"{file}: not a valid ACT config ({e}).") from e
    if not config.image_features:
        raise CheckpointError(
            f"{file}: the policy has no camera input; act-tool needs at least one."
        )
    if config.action_feature is None:
        raise CheckpointError(f"{file}: the policy has no 'action' output feature.")
    return config


def step_stats(ckpt_dir: Path, pipeline_file: str, registry_name: str) -> tuple[dict, dict, float]:
    """Stats, norm map and eps of the (un)normalizer step of a saved processor pipeline."""
    pipeline = read_json(ckpt_dir / pipeline_file)
    for step in pipeline.get("steps", []):
        if step.get("registry_name") == registry_name:
            cfg = step.get("config", {})
            state_file = step.get("state_file")
            if not state_file:
                raise CheckpointError(
                    f"{ckpt_dir / pipeline_file}: the {registry_name} step has no state file."
                )
            tensors = read_safetensors(ckpt_dir / state_file)
            stats: dict[str, dict[str, np.ndarray]] = {}
            for key, value in tensors.items():
                feature, _, stat = key.rpartition(".")
                stats.setdefault(feature, {})[stat] = value.double().numpy()
            return stats, cfg.get("norm_map", {}), float(cfg.get("eps", 1e-8))
    raise CheckpointError(
        f"{ckpt_dir / pipeline_file}: no {registry_name} step; act-tool needs the normalization "
        "statistics the policy was trained with."
    )


def legacy_stats(tensors: dict, config) -> dict[str, dict[str, np.ndarray]]:
    """Map LeRobot <= 0.3 buffers (`normalize_inputs.buffer_observation_images_wrist_cam.mean`) to
    feature names by matching against the config's own features, so names with underscores
    (`wrist_cam`) keep their statistics."""
    features = list(config.input_features) + list(config.output_features)
    by_flat = {key.replace(".", "_"): key for key in features}
    stats: dict[str, dict[str, np.ndarray]] = {}
    for name, value in tensors.items():
        if not name.startswith(LEGACY_PREFIXES):
            continue
        prefix, _, rest = name.partition(".")
        buffer, _, stat = rest.rpartition(".")
        feature = by_flat.get(buffer.removeprefix("buffer_"))
        if feature is None:
            continue
        # Inputs come from normalize_inputs, the action from unnormalize_outputs (same values
        # as normalize_targets).
        if feature == "action" and prefix == "normalize_targets" and "action" in stats:
            continue
        stats.setdefault(feature, {})[stat] = value.double().numpy()
    return stats


def feature_types(config) -> dict[str, str]:
    return {
        key: (ft.type.value if hasattr(ft.type, "value") else str(ft.type))
        for key, ft in {**config.input_features, **config.output_features}.items()
    }


def check_stats(file: Path, config, stats: dict, norm_map: dict[str, str]) -> dict[str, str]:
    """Every feature has the statistics its normalization mode needs; return feature -> mode."""
    modes: dict[str, str] = {}
    for key, ftype in feature_types(config).items():
        mode = norm_map.get(ftype, "IDENTITY")
        mode = mode.value if hasattr(mode, "value") else str(mode)
        if mode not in STAT_NAMES:
            raise CheckpointError(f"{file}: normalization mode {mode!r} of {key} is not supported.")
        missing = [s for s in STAT_NAMES[mode] if s not in stats.get(key, {})]
        if missing:
            raise CheckpointError(
                f"{file}: statistics missing for feature '{key}' ({', '.join(missing)} needed by "
                f"{mode}). Re-save the checkpoint with its dataset statistics."
            )
        modes[key] = mode
    return modes


def load_checkpoint(path: Path) -> Checkpoint:
    """Load an ACT checkpoint from any of the accepted folder layouts."""
    import torch
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    ckpt_dir = resolve_checkpoint_dir(path)
    notes: list[str] = []
    config = load_config(ckpt_dir, notes)
    weights_file = ckpt_dir / WEIGHTS
    tensors = read_safetensors(weights_file)
    has_processors = (ckpt_dir / PREPROCESSOR).exists() or (ckpt_dir / POSTPROCESSOR).exists()
    if has_processors:
        layout = "processors"
        in_stats, norm_map, eps = step_stats(ckpt_dir, PREPROCESSOR, "normalizer_processor")
        out_stats, out_map, _ = step_stats(ckpt_dir, POSTPROCESSOR, "unnormalizer_processor")
        stats = {**in_stats, "action": out_stats.get("action", {})}
        norm_map = {**norm_map, "ACTION": out_map.get("ACTION", norm_map.get("ACTION", "IDENTITY"))}
        stats_file = ckpt_dir / PREPROCESSOR
    elif any(k.startswith(LEGACY_PREFIXES) for k in tensors):
        layout = "legacy"
        stats = legacy_stats(tensors, config)
        norm_map = {
            k: (v.value if hasattr(v, "value") else v)
            for k, v in config.normalization_mapping.items()
        }
        eps = 1e-8
        stats_file = weights_file
    else:
        raise CheckpointError(
            f"{ckpt_dir}: no normalization statistics: neither {PREPROCESSOR} nor normalization "
            f"buffers in {WEIGHTS}. Export the checkpoint saved by LeRobot's training run."
        )
    modes = check_stats(stats_file, config, stats, norm_map)

    policy = ACTPolicy(config)
    model_tensors = {k: v for k, v in tensors.items() if not k.startswith(LEGACY_PREFIXES)}
    try:
        missing, unexpected = policy.load_state_dict(model_tensors, strict=False)
    except RuntimeError as e:  # shape mismatches
        first = str(e).split("\n\t")[1:2] or [str(e)]
        raise CheckpointError(
            f"{weights_file}: weights do not match the ACT config in {CONFIG} ({first[0].strip()}). "
            "The files come from different runs."
        ) from e
    if missing or unexpected:
        raise CheckpointError(
            f"{weights_file}: weights do not match the ACT config in {CONFIG} "
            f"(missing: {', '.join(missing[:5]) or 'none'}; unexpected: "
            f"{', '.join(unexpected[:5]) or 'none'}). The files come from different runs."
        )
    policy.to(torch.float32).eval()

    if layout == "processors":
        pre, post = make_pre_post_processors(config, pretrained_path=str(ckpt_dir))
    else:
        torch_stats = {
            key: {s: torch.from_numpy(v).float() for s, v in d.items()} for key, d in stats.items()
        }
        pre, post = make_pre_post_processors(config, dataset_stats=torch_stats)
        notes.append("LeRobot <= 0.3 checkpoint: statistics read from model.safetensors")
    return Checkpoint(
        path=ckpt_dir,
        layout=layout,
        config=config,
        policy=policy,
        preprocessor=pre,
        postprocessor=post,
        stats=stats,
        norm_modes=modes,
        eps=eps,
        notes=notes,
    )
