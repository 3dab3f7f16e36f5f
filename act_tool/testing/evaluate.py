"""How close a trained checkpoint's actions are to recorded ones, with LeRobot's own pipeline.

`first_actions` runs LeRobot's preprocessor, `predict_action_chunk` and postprocessor on frames
shaped like `LeRobotDataset.add_frame` input (uint8 HWC RGB images, float32 state) and returns the
first action of each predicted chunk, in robot units. Used to check that a policy learned
something: its error against the recorded actions should beat a constant (mean) action.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def first_actions(checkpoint: Path, frames: Iterable[dict]) -> np.ndarray:
    """(N, action_dim) first actions of the chunks the policy predicts for `frames`."""
    import torch
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    cfg = ACTConfig.from_pretrained(checkpoint)
    cfg.pretrained_backbone_weights = None  # the checkpoint holds the weights: no download
    cfg.device = "cpu"
    policy = ACTPolicy.from_pretrained(checkpoint, config=cfg).eval()
    pre, post = make_pre_post_processors(cfg, pretrained_path=str(checkpoint))
    image_keys = [k for k in cfg.input_features if k.startswith("observation.images.")]
    out = []
    with torch.no_grad():
        for frame in frames:
            batch = {"observation.state": torch.as_tensor(frame["observation.state"])[None]}
            for key in image_keys:
                img = torch.as_tensor(np.ascontiguousarray(frame[key]))
                batch[key] = img.permute(2, 0, 1)[None].float() / 255.0
            chunk = post(policy.predict_action_chunk(pre(batch)))
            out.append(chunk[0, 0].cpu().numpy())
    return np.stack(out)


def dataset_mean_action(root: Path) -> np.ndarray:
    """The dataset's mean action, from LeRobot's meta/stats.json."""
    stats = json.loads((Path(root) / "meta" / "stats.json").read_text())
    return np.asarray(stats["action"]["mean"], dtype=np.float64)
