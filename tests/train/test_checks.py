"""Checks that run before any training: dataset features, camera sizes, output directory,
resume state and the backbone weights."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from act_tool.errors import ActToolError
from act_tool.train import backbone
from act_tool.train.backbone import RESNET18_FILE, plan_backbone
from act_tool.train.dataset_check import inspect_dataset
from act_tool.train.errors import DatasetError, TrainError
from act_tool.train.runner import TrainRequest, prepare


def write_info(root: Path, features: dict) -> Path:
    (root / "meta").mkdir(parents=True)
    info = {"fps": 30, "total_episodes": 1, "total_frames": 10, "features": features}
    (root / "meta" / "info.json").write_text(json.dumps(info))
    return root


def vec(n: int = 6) -> dict:
    return {"dtype": "float32", "shape": [n], "names": None}


def cam(h: int, w: int, dtype: str = "video") -> dict:
    return {"dtype": dtype, "shape": [h, w, 3], "names": ["height", "width", "channels"]}


GOOD = {
    "observation.state": vec(),
    "action": vec(),
    "observation.images.front": cam(48, 64),
    "observation.images.handeye": cam(48, 64, "image"),
}


def test_errors_are_act_tool_errors():
    assert issubclass(DatasetError, ActToolError) and issubclass(TrainError, ActToolError)


def test_good_local_dataset(tmp_path):
    s = inspect_dataset(write_info(tmp_path / "ds", GOOD))
    assert s.checked and s.is_local and s.repo_id == "local/ds"
    assert s.cameras == (("front", 48, 64), ("handeye", 48, 64))
    assert (s.state_dim, s.action_dim, s.fps) == (6, 6, 30)
    assert "front 48x64" in s.describe()


@pytest.mark.parametrize(
    "drop, match",
    [
        ("observation.state", "observation.state"),
        ("action", "'action'"),
        ("cameras", "no camera"),
    ],
)
def test_missing_features(tmp_path, drop, match):
    features = dict(GOOD)
    if drop == "cameras":
        features = {k: v for k, v in features.items() if "images" not in k}
    else:
        del features[drop]
    with pytest.raises(DatasetError, match=match):
        inspect_dataset(write_info(tmp_path / "ds", features))


def test_mismatching_camera_sizes(tmp_path):
    features = dict(GOOD, **{"observation.images.handeye": cam(96, 128)})
    with pytest.raises(DatasetError, match="different sizes.*front 48x64, handeye 96x128"):
        inspect_dataset(write_info(tmp_path / "ds", features))


def test_not_a_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="info.json is missing"):
        inspect_dataset(tmp_path / "empty")
    with pytest.raises(DatasetError, match="no dataset at"):
        inspect_dataset(tmp_path / "missing")


def test_hub_ids(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_LEROBOT_HOME", str(tmp_path / "home"))
    s = inspect_dataset("someone/unseen_dataset")
    assert not s.checked and s.root is None and "cannot be checked offline" in s.describe()
    write_info(tmp_path / "home" / "someone" / "cached", GOOD)
    s = inspect_dataset("someone/cached")
    assert s.checked and s.root is None and s.repo_id == "someone/cached"
    write_info(tmp_path / "home" / "someone" / "bad", {"action": vec()})
    with pytest.raises(DatasetError):
        inspect_dataset("someone/bad")


def test_existing_output_needs_resume(tmp_path):
    ds = write_info(tmp_path / "ds", GOOD)
    (tmp_path / "run").mkdir()
    with pytest.raises(TrainError, match="already exists: pass --resume"):
        prepare(TrainRequest(output=tmp_path / "run", dataset=str(ds)))
    with pytest.raises(TrainError, match="needs a finished checkpoint"):
        prepare(TrainRequest(output=tmp_path / "run", resume=True))
    with pytest.raises(TrainError, match="--dataset is required"):
        prepare(TrainRequest(output=tmp_path / "new"))


def test_bad_dataset_fails_before_output_is_touched(tmp_path):
    with pytest.raises(DatasetError):
        prepare(TrainRequest(output=tmp_path / "run", dataset=str(tmp_path)))
    assert not (tmp_path / "run").exists()


def test_backbone_missing_weights_say_what_to_do(tmp_path):
    env = {"TORCH_HOME": str(tmp_path / "th")}
    with pytest.raises(TrainError) as e:
        plan_backbone(True, None, tmp_path / "private", env, download=False)
    msg = str(e.value)
    assert (
        "--backbone-weights" in msg and "--no-pretrained-backbone" in msg and RESNET18_FILE in msg
    )
    plan = plan_backbone(False, None, tmp_path / "private", env)
    assert not plan.pretrained and plan.torch_home is None


def test_backbone_from_cache_and_from_file(tmp_path, monkeypatch):
    fake = tmp_path / "weights.pth"
    fake.write_bytes(b"not resnet")
    with pytest.raises(TrainError, match="not torchvision's ResNet18"):
        plan_backbone(True, fake, tmp_path / "private")
    digest = hashlib.sha256(b"not resnet").hexdigest()[:8]
    monkeypatch.setattr(backbone, "RESNET18_SHA256_PREFIX", digest)
    plan = plan_backbone(True, fake, tmp_path / "private")
    assert plan.pretrained and plan.torch_home == tmp_path / "private"
    linked = tmp_path / "private" / "hub" / "checkpoints" / RESNET18_FILE
    assert linked.read_bytes() == b"not resnet"
    cache = tmp_path / "th" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    shutil.copy(fake, cache / RESNET18_FILE)
    plan = plan_backbone(True, None, tmp_path / "other", {"TORCH_HOME": str(tmp_path / "th")})
    assert plan.pretrained and plan.torch_home is None


def test_torchvision_file_name_matches():
    tv = pytest.importorskip("torchvision")
    url = tv.models.ResNet18_Weights.IMAGENET1K_V1.url
    assert url == backbone.RESNET18_URL and url.endswith(RESNET18_FILE)


def test_backbone_download_is_checked_and_leaves_nothing_on_mismatch(tmp_path):
    """Where the cache lacks the file, it is fetched; a file that is not ResNet18's is refused."""
    env = {"TORCH_HOME": str(tmp_path / "th")}
    impostor = tmp_path / "impostor.pth"
    impostor.write_bytes(b"not the weights")
    with pytest.raises(TrainError, match="did not give torchvision's ResNet18"):
        plan_backbone(True, None, tmp_path / "private", env, url=impostor.as_uri())
    assert list((tmp_path / "th" / "hub" / "checkpoints").iterdir()) == []
    with pytest.raises(TrainError, match="download failed"):
        plan_backbone(True, None, tmp_path / "private", env, url=(tmp_path / "none").as_uri())
