"""Which arm the spec says a policy was trained for: --robot-type, else the dataset's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from act_tool.errors import ActToolError
from act_tool.export.robot_type import find_robot_type


def dataset(root: Path, robot_type: str | None) -> Path:
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps({"fps": 30, "robot_type": robot_type}))
    return root


def test_explicit_robot_type_must_be_known(tmp_path):
    assert find_robot_type(tmp_path, None, "so101_follower") == "so101_follower"
    with pytest.raises(ActToolError, match="unknown robot type 'so42'.*so101_follower"):
        find_robot_type(tmp_path, None, "so42")


def test_the_given_dataset_is_read_first_and_old_names_mapped(tmp_path):
    assert find_robot_type(tmp_path, dataset(tmp_path / "d1", "koch_follower"), None) == (
        "koch_follower"  # recorded as written: run refuses it on an SO-101
    )
    assert find_robot_type(tmp_path, dataset(tmp_path / "d2", "so101"), None) == "so101_follower"


def test_the_dataset_the_checkpoint_was_trained_on(tmp_path, monkeypatch):
    """train_config.json names the dataset: its root, or the repo in LeRobot's cache."""
    ckpt = tmp_path / "pretrained_model"
    ckpt.mkdir()
    root = dataset(tmp_path / "data", "so100_follower")
    (ckpt / "train_config.json").write_text(json.dumps({"dataset": {"root": str(root)}}))
    assert find_robot_type(ckpt, None, None) == "so100_follower"
    home = tmp_path / "home"
    dataset(home / "me" / "pick", "koch_follower")
    monkeypatch.setenv("HF_LEROBOT_HOME", str(home))
    (ckpt / "train_config.json").write_text(json.dumps({"dataset": {"repo_id": "me/pick"}}))
    assert find_robot_type(ckpt, None, None) == "koch_follower"


def test_unknown_says_so101_with_a_note(tmp_path):
    notes: list[str] = []
    assert find_robot_type(tmp_path, dataset(tmp_path / "d", None), None, notes.append) == (
        "so101_follower"
    )
    assert "--robot-type" in notes[0]
