"""Fine-tuning from a pretrained policy (`act-tool train ... -- --policy.path=PATH_OR_REPO`):
check before any work that it is a LeRobot ACT checkpoint, as LeRobot will read it (its
`config.json`, from a local `pretrained_model/` folder or a hub model repo)."""

from __future__ import annotations

import json
from pathlib import Path

from act_tool.train.dataset_check import HUB_ID, looks_like_path
from act_tool.train.errors import TrainError
from act_tool.train.hub import fetch_json

CONFIG_NAME = "config.json"


def _local_config(folder: Path) -> dict:
    path = folder / CONFIG_NAME
    if not path.is_file():
        inner = folder / "checkpoints" / "last" / "pretrained_model"
        hint = (
            f": for a training run, pass its checkpoint, --policy.path={inner}"
            if (inner / CONFIG_NAME).is_file()
            else " (a LeRobot policy checkpoint is a pretrained_model/ folder)"
        )
        raise TrainError(
            f"--policy.path {folder} is not a policy checkpoint: no {CONFIG_NAME}{hint}"
        )
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise TrainError(f"{path} cannot be read as JSON: {e}") from e


def check_pretrained_policy(policy_path: str) -> dict:
    """The pretrained policy's config; TrainError unless it exists and is an ACT policy."""
    folder = Path(policy_path).expanduser()
    if folder.is_dir():
        config, where = _local_config(folder), str(folder)
    elif looks_like_path(policy_path) or not HUB_ID.match(policy_path):
        raise TrainError(
            f"--policy.path {policy_path}: no such folder (give a checkpoint's pretrained_model/ "
            "folder or a hub model repo id, owner/name)"
        )
    else:
        where = f"hub policy {policy_path}"
        config = fetch_json(policy_path, CONFIG_NAME, "model", where, TrainError)
    kind = config.get("type")
    if kind != "act":
        raise TrainError(
            f"--policy.path {where} is a '{kind}' policy, not ACT: act-tool fine-tunes and exports "
            "ACT policies only"
        )
    return config
