"""Which arm a checkpoint was trained for: `--robot-type`, else the dataset's meta/info.json
(the `--dataset` given to export, or the one LeRobot's train_config.json beside the weights
names, where it is on this machine), else the SO-101 follower, with a note saying so."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from act_tool.robot_types import DEFAULT_ROBOT_TYPE, robot_type

# Names older LeRobot versions wrote for the same follower.
ALIASES = {"so101": "so101_follower"}


def _info_robot_type(info_json: Path) -> str | None:
    try:
        value = json.loads(info_json.read_text()).get("robot_type")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return str(value) if value else None


def _trained_datasets(checkpoint: Path) -> list[Path]:
    """Dataset folders LeRobot's train_config.json names: its root, or the repo's local cache."""
    try:
        dataset = json.loads((checkpoint / "train_config.json").read_text()).get("dataset", {})
    except (OSError, json.JSONDecodeError, AttributeError):
        return []
    folders = []
    if dataset.get("root"):
        folders.append(Path(dataset["root"]))
    if dataset.get("repo_id"):
        home = Path(os.environ.get("HF_LEROBOT_HOME", Path.home() / ".cache/huggingface/lerobot"))
        folders.append(home / str(dataset["repo_id"]))
    return folders


def find_robot_type(
    checkpoint: Path,
    dataset: Path | None,
    explicit: str | None,
    log: Callable[[str], None] = print,
) -> str:
    """The robot type to record in the spec. An explicit one must be known to act-tool; one read
    from a dataset is kept as written (older names mapped), so `run` can refuse a foreign arm."""
    if explicit:
        return robot_type(explicit).name
    folders = ([dataset] if dataset is not None else []) + _trained_datasets(Path(checkpoint))
    for folder in folders:
        found = _info_robot_type(folder / "meta" / "info.json")
        if found:
            return ALIASES.get(found, found)
    log(
        f"note: the robot type is not recorded in the checkpoint's dataset (not found on this "
        f"machine); the spec says {DEFAULT_ROBOT_TYPE}. Pass --robot-type to change it."
    )
    return DEFAULT_ROBOT_TYPE
