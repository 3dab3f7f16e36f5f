"""A policy folder that starts LeRobot's own training loop from a twin backbone.

LeRobot's trainer starts a policy's weights either from scratch (with ImageNet weights for the
ResNet18 when it can get them) or from a pretrained policy folder (`--policy.path`). A twin
backbone (`act-tool backbone`) is neither, so this writes the second: LeRobot's ACT built from
the run's own options and dataset, the twin backbone installed in its ResNet18, saved with
LeRobot's own `save_pretrained` and the dataset's pre- and postprocessor. LeRobot then trains
every weight from there, the backbone at `optimizer_lr_backbone`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from act_tool.train.errors import TrainError


def write_init_checkpoint(
    settings: dict[str, str], backbone_file: Path, folder: Path, log: Callable[[str], None]
) -> Path:
    """Writes the starting policy for a new run with `settings` (lerobot-train's options) into
    `folder` and returns it. Checks the backbone against the policy before anything is written."""
    import logging

    logging.getLogger("lerobot.utils.import_utils").setLevel(logging.ERROR)
    from lerobot.datasets.dataset_metadata import LeRobotDatasetMetadata
    from lerobot.policies import make_policy, make_pre_post_processors

    from act_tool.train.frozen_loop import parse_train_config
    from act_tool.train.twin_backbone import install_backbone

    if "policy.path" in settings:
        raise TrainError("--backbone starts the policy's ResNet18; drop -- --policy.path "
                         "(a pretrained policy brings its own backbone)")  # fmt: skip
    # LeRobot refuses an existing output folder; the ResNet18's weights come from the file.
    probe = dict(
        settings,
        output_dir=str(folder / "unused"),
        **{"policy.pretrained_backbone_weights": "null"},
    )
    cfg = parse_train_config(probe)
    if cfg.policy.type != "act":
        raise TrainError(f"--backbone starts an ACT policy's ResNet18, not {cfg.policy.type}'s")
    meta = LeRobotDatasetMetadata(cfg.dataset.repo_id, root=cfg.dataset.root)
    policy = make_policy(cfg=cfg.policy, ds_meta=meta)
    if not cfg.policy.image_features:
        raise TrainError("--backbone needs a dataset with cameras")
    shapes = {k: tuple(f.shape[1:]) for k, f in cfg.policy.image_features.items()}
    install_backbone(policy, backbone_file, shapes)
    preprocessor, postprocessor = make_pre_post_processors(
        policy_cfg=cfg.policy, dataset_stats=meta.stats
    )
    folder.mkdir(parents=True, exist_ok=True)
    policy.save_pretrained(folder)
    preprocessor.save_pretrained(folder)
    postprocessor.save_pretrained(folder)
    log(f"backbone: {backbone_file} installed in the starting policy; LeRobot trains it further")
    return folder
