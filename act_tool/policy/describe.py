"""The spec a checkpoint's artifacts carry: cameras, state and action names, rates, chunking,
training ranges and the action scale, taken from the checkpoint (and its dataset where given).

Shared by export (which adds the artifact's own fields) and the PyTorch runner (which runs the
checkpoint itself with the same spec).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.robot_types import SO101_FOLLOWER
from act_tool.spec import CameraSpec, EngineSpec

# Without min/max in the checkpoint's stats (LeRobot <= 0.3 saved only what the normalization
# mode uses, mean and std for ACT), a feature's range is taken as mean +- RANGE_STDS * std.
RANGE_STDS = 3.0


def feature_names(dataset: Path | None, key: str, n: int) -> tuple[str, ...]:
    """Names of a vector feature: from the dataset's info.json, else SO-101's, else numbered."""
    if dataset is not None and (dataset / "meta" / "info.json").is_file():
        info = json.loads((dataset / "meta" / "info.json").read_text())
        names = info.get("features", {}).get(key, {}).get("names")
        if isinstance(names, dict):  # older datasets: {"motors": [...]}
            names = next(iter(names.values()), None)
        if isinstance(names, list) and len(names) == n:
            return tuple(str(x) for x in names)
    if n == len(SO101_FOLLOWER.keys):
        return SO101_FOLLOWER.keys
    return tuple(f"{key}.{i}" for i in range(n))


def dataset_fps(dataset: Path | None) -> int | None:
    if dataset is None or not (dataset / "meta" / "info.json").is_file():
        return None
    return int(json.loads((dataset / "meta" / "info.json").read_text()).get("fps", 0)) or None


def feature_range(stats: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of a vector feature from its saved stats. LeRobot >= 0.4 saves every dataset
    statistic with the (un)normalizer (min, max, mean, std, quantiles); older checkpoints: mean and
    std, then mean +- RANGE_STDS * std."""
    if not n:
        return np.zeros(0), np.zeros(0)
    if "min" in stats and "max" in stats:
        return np.ravel(stats["min"]), np.ravel(stats["max"])
    mean, std = np.ravel(stats["mean"]), np.ravel(stats["std"])
    return mean - RANGE_STDS * std, mean + RANGE_STDS * std


def action_scale(ckpt: Any) -> np.ndarray:
    """The action std the errors are measured against (a range-based stand-in if none is stored)."""
    stats = ckpt.stats["action"]
    if "std" in stats:
        return np.maximum(stats["std"], 1e-6)
    if "min" in stats and "max" in stats:
        return np.maximum((stats["max"] - stats["min"]) / 4.0, 1e-6)
    return np.ones(ckpt.config.action_feature.shape[0])


def spec_from_checkpoint(
    ckpt: Any,
    *,
    units: str = "degrees",
    channel_order: str = "bgr",
    fps: int | None = None,
    dataset: Path | None = None,
) -> EngineSpec:
    """The spec fields that come from a loaded checkpoint (policy.checkpoint.Checkpoint) and the
    export's choices; the artifact's own fields (name, sha256, precision, builder) stay empty."""
    cfg = ckpt.config
    cameras = tuple(
        CameraSpec(
            key,
            cfg.image_features[key].shape[1],
            cfg.image_features[key].shape[2],
            channel_order,
        )
        for key in ckpt.camera_keys
    )
    n_state = cfg.robot_state_feature.shape[0] if ckpt.state_key else 0
    n_action = cfg.action_feature.shape[0]
    state_names = feature_names(dataset, "observation.state", n_state) if n_state else ()
    lo, hi = feature_range(ckpt.stats.get("observation.state", {}), n_state)
    action_lo, action_hi = feature_range(ckpt.stats.get("action", {}), n_action)
    return EngineSpec(
        artifact="",
        cameras=cameras,
        state_names=state_names,
        action_names=feature_names(dataset, "action", n_action),
        units=units,
        fps=fps or dataset_fps(dataset) or 30,
        chunk_size=cfg.chunk_size,
        n_action_steps=cfg.n_action_steps,
        temporal_ensemble_coeff=cfg.temporal_ensemble_coeff,
        state_min=tuple(float(x) for x in np.ravel(lo)),
        state_max=tuple(float(x) for x in np.ravel(hi)),
        source_checkpoint=str(ckpt.path.resolve()),
        action_std=tuple(float(x) for x in action_scale(ckpt)),
        action_min=tuple(float(x) for x in action_lo),
        action_max=tuple(float(x) for x in action_hi),
    )
