"""A resume that would change the run's dataset or settings is refused, naming the difference."""

from __future__ import annotations

from pathlib import Path

import pytest

from act_tool.train.dataset_check import DatasetSummary
from act_tool.train.errors import TrainError
from act_tool.train.resume_check import check_resume_unchanged, same_value, saved_value


def _config(root: Path) -> dict:
    return {
        "dataset": {"repo_id": f"local/{root.name}", "root": str(root)},
        "batch_size": 32,
        "steps": 15000,
        "policy": {"chunk_size": 20, "kl_weight": 10.0, "use_amp": False, "device": "cpu",
                   "pretrained_backbone_weights": None,
                   "input_features": {"observation.state": {"shape": [6]},
                                      "observation.images.front": {"shape": [3, 96, 128]}},
                   "output_features": {"action": {"shape": [6]}}},
        "wandb": {"project": "lerobot", "run_id": None},
    }  # fmt: skip


def _dataset(root: Path, height: int = 96) -> DatasetSummary:
    return DatasetSummary(repo_id=f"local/{root.name}", root=root, source=str(root),
                          cameras=(("front", height, 128),), state_dim=6, action_dim=6)  # fmt: skip


def test_saved_values_read_by_dotted_key(tmp_path):
    cfg = _config(tmp_path)
    assert saved_value(cfg, "policy.chunk_size") == 20
    with pytest.raises(KeyError):
        saved_value(cfg, "policy.no_such")


@pytest.mark.parametrize(
    ("given", "saved", "same"),
    [("20", 20, True), ("20.0", 20, True), ("40", 20, False), ("1e1", 10.0, True),
     ("true", True, True), ("False", False, True), ("true", False, False),
     ("null", None, True), ("x", None, False), ("abc", "abc", True), ("ab", "abc", False),
     ("[1, 2]", [1, 2], True), ("[1]", [1, 2], False), ("not json", [1], False)],
)  # fmt: skip
def test_values_compare_as_meant(given, saved, same):
    assert same_value(given, saved) is same


def test_the_same_dataset_and_settings_resume(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    cfg = _config(root)
    check_resume_unchanged(
        cfg, tmp_path / "run", _dataset(root), 32,
        {"policy.chunk_size": "20", "save_freq": "1000", "wandb.run_id": "abc",
         "wandb.project": "mine", "eval.n_episodes": "5", "policy.push_to_hub": "true",
         "dataset.video_backend": "torchcodec", "not_saved": "1"},
    )  # fmt: skip


def test_another_dataset_is_refused(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    with pytest.raises(TrainError, match=r"trains on .*a, not .*b: resume without --dataset"):
        check_resume_unchanged(_config(a), tmp_path / "run", _dataset(b), None, {})


def test_a_moved_dataset_resumes(tmp_path):
    moved = tmp_path / "new_place"
    moved.mkdir()
    check_resume_unchanged(_config(tmp_path / "gone"), tmp_path / "run", _dataset(moved), None, {})


def test_another_dataset_in_place_of_a_gone_one_is_refused(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(TrainError, match=r"observation.images.front 3x96x128.*has .*3x48x128"):
        check_resume_unchanged(
            _config(tmp_path / "gone"), tmp_path / "run", _dataset(other, height=48), None, {}
        )


def test_another_batch_size_is_refused(tmp_path):
    with pytest.raises(TrainError, match="batch size 32: resume without --batch-size"):
        check_resume_unchanged(_config(tmp_path), tmp_path / "run", None, 8, {})


def test_another_model_setting_is_refused(tmp_path):
    with pytest.raises(TrainError, match=r"--policy.chunk_size=20, not 40: .*drop -- --policy"):
        check_resume_unchanged(_config(tmp_path), tmp_path, None, None, {"policy.chunk_size": "40"})
