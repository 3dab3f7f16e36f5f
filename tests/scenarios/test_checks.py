"""Checks that run before any training: dataset features, camera sizes, output directory,
resume state and the backbone weights."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import httpx
import pytest
from huggingface_hub.errors import (
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
)

from act_tool.errors import ActToolError
from act_tool.train import backbone, hub
from act_tool.train.backbone import RESNET18_FILE, plan_backbone
from act_tool.train.command import TrainOptions
from act_tool.train.dataset_check import inspect_dataset
from act_tool.train.errors import DatasetError, TrainError
from act_tool.train.pretrained import check_pretrained_policy
from act_tool.train.runner import TrainRequest, _backbone, prepare


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
    assert s.is_local and s.repo_id == "local/ds"
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


def test_not_a_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="info.json is missing"):
        inspect_dataset(tmp_path / "empty")
    with pytest.raises(DatasetError, match="no dataset directory at"):
        inspect_dataset(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no dataset at dta: give a local dataset directory"):
        inspect_dataset("dta")


def test_good_hub_dataset_in_lerobots_caches(tmp_path, monkeypatch):
    """Offline, a hub dataset LeRobot already holds is read from its cache: the old
    `$HF_LEROBOT_HOME/<repo_id>` layout and the snapshot cache `$HF_LEROBOT_HOME/hub`."""
    monkeypatch.setenv("HF_LEROBOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    write_info(tmp_path / "home" / "someone" / "cached", GOOD)
    s = inspect_dataset("someone/cached")
    assert s.root is None and s.repo_id == "someone/cached" and s.source == "cached"
    snapshot = tmp_path / "home" / "hub" / "datasets--someone--snap" / "snapshots" / "abc123"
    write_info(snapshot, GOOD)
    assert inspect_dataset("someone/snap").cameras == (("front", 48, 64), ("handeye", 48, 64))
    write_info(tmp_path / "home" / "someone" / "bad", {"action": vec()})
    with pytest.raises(DatasetError, match="observation.state"):
        inspect_dataset("someone/bad")


def test_uncached_hub_dataset_offline_is_an_error(tmp_path, monkeypatch):
    """Offline LeRobot reads only its own caches, so nothing else is consulted."""
    monkeypatch.setenv("HF_LEROBOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub was asked while offline")

    monkeypatch.setattr(hub, "read_text", no_hub)
    with pytest.raises(DatasetError, match="not in LeRobot's cache .* HF_HUB_OFFLINE is set"):
        inspect_dataset("someone/unseen_dataset")


def test_uncached_hub_policy_offline_is_an_error(tmp_path, monkeypatch):
    """A pretrained policy is read from huggingface_hub's cache, as LeRobot reads it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    asked: list[bool] = []

    def cache_only(repo_id, filename, repo_type, local_files_only):
        asked.append(local_files_only)
        raise LocalEntryNotFoundError("not in the cache")

    monkeypatch.setattr(hub, "read_text", cache_only)
    with pytest.raises(TrainError, match="not in the local cache and HF_HUB_OFFLINE is set"):
        check_pretrained_policy("someone/act_policy")
    assert asked == [True]  # the cache was asked, the network was not


def fake_hub(monkeypatch, tmp_path, result):
    """Online (HF_HUB_OFFLINE=0), with the hub replaced: `result` is info.json's content (dict)
    or an exception to raise. Returns the requests made."""
    monkeypatch.setenv("HF_LEROBOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.chdir(tmp_path)
    requests: list[tuple] = []

    def download(repo_id, filename, repo_type, local_files_only):
        requests.append((repo_id, filename, repo_type, local_files_only))
        if isinstance(result, BaseException):
            raise result
        return json.dumps(result)

    monkeypatch.setattr(hub, "read_text", download)
    return requests


def http_error(cls, status: int):
    request = httpx.Request("GET", "https://huggingface.co/x")
    return cls(f"{status} (test)", response=httpx.Response(status, request=request))


def test_uncached_hub_dataset_is_checked_on_the_hub(tmp_path, monkeypatch):
    info = {"fps": 30, "total_episodes": 50, "total_frames": 9000, "features": GOOD}
    requests = fake_hub(monkeypatch, tmp_path, info)
    s = inspect_dataset("someone/remote")
    assert requests == [("someone/remote", "meta/info.json", "dataset", False)]
    assert s.root is None and s.episodes == 50 and "checked on the hub" in s.describe()
    fake_hub(monkeypatch, tmp_path, dict(info, features={"action": vec()}))
    with pytest.raises(DatasetError, match="hub dataset someone/remote has no 'observation.state'"):
        inspect_dataset("someone/remote")


@pytest.mark.parametrize(
    "make_error, match",
    [
        (lambda: http_error(RepositoryNotFoundError, 404), "does not exist on the Hugging Face"),
        (lambda: http_error(RemoteEntryNotFoundError, 404), "has no meta/info.json"),
        (lambda: httpx.ConnectError("refused"), "cannot read meta/info.json .*refused.*network"),
        (lambda: httpx.ReadTimeout("timed out"), "cannot read meta/info.json .*timed out"),
        (lambda: http_error(HfHubHTTPError, 503), "cannot read meta/info.json .*503"),
    ],
)
def test_hub_dataset_errors_say_what_went_wrong(tmp_path, monkeypatch, make_error, match):
    fake_hub(monkeypatch, tmp_path, make_error())
    with pytest.raises(DatasetError, match=match):
        inspect_dataset("someone/remote")


@pytest.mark.parametrize("typo", ["demo-out/dta", "./dta", "data/a/b", "~/no_such_dataset_dir"])
def test_a_path_that_does_not_exist_is_a_typo_not_a_hub_id(tmp_path, monkeypatch, typo):
    """`demo-out/dta` beside a `demo-out` folder names a directory: never a hub download."""
    requests = fake_hub(monkeypatch, tmp_path, {"features": GOOD})
    (tmp_path / "demo-out" / "data").mkdir(parents=True)
    with pytest.raises(DatasetError, match=f"no dataset directory at {typo}.*does not exist"):
        inspect_dataset(typo)
    assert requests == []


def test_hub_id_beside_a_folder_of_its_owners_name(tmp_path, monkeypatch):
    requests = fake_hub(monkeypatch, tmp_path, {"features": GOOD})
    (tmp_path / "lerobot").mkdir()
    with pytest.raises(DatasetError, match="--dataset hf://datasets/lerobot/pusht"):
        inspect_dataset("lerobot/pusht")
    assert inspect_dataset("hf://datasets/lerobot/pusht").repo_id == "lerobot/pusht"
    assert requests == [("lerobot/pusht", "meta/info.json", "dataset", False)]


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


def policy_dir(root: Path, kind: str = "act") -> Path:
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"type": kind, "chunk_size": 50}))
    return root


def test_pretrained_policy_must_be_an_act_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_pretrained_policy(str(policy_dir(tmp_path / "act")))["chunk_size"] == 50
    with pytest.raises(TrainError, match="is a 'diffusion' policy, not ACT"):
        check_pretrained_policy(str(policy_dir(tmp_path / "diff", "diffusion")))
    run = tmp_path / "run"
    policy_dir(run / "checkpoints" / "last" / "pretrained_model")
    with pytest.raises(TrainError, match="for a training run, pass its checkpoint"):
        check_pretrained_policy(str(run))
    with pytest.raises(TrainError, match="no such folder"):
        check_pretrained_policy("./nope")


def test_pretrained_policy_from_the_hub(tmp_path, monkeypatch):
    requests = fake_hub(monkeypatch, tmp_path, {"type": "act"})
    check_pretrained_policy("someone/act_policy")
    assert requests == [("someone/act_policy", "config.json", "model", False)]
    fake_hub(monkeypatch, tmp_path, {"type": "pi0"})
    with pytest.raises(TrainError, match="hub policy someone/pi0 is a 'pi0' policy"):
        check_pretrained_policy("someone/pi0")
    fake_hub(monkeypatch, tmp_path, http_error(RepositoryNotFoundError, 404))
    with pytest.raises(TrainError, match="does not exist on the Hugging Face Hub"):
        check_pretrained_policy("someone/typo")


def test_a_wrong_pretrained_policy_stops_before_any_work(tmp_path, monkeypatch):
    ds = write_info(tmp_path / "ds", GOOD)
    diffusion = policy_dir(tmp_path / "diff", "diffusion")
    request = TrainRequest(
        output=tmp_path / "run", dataset=str(ds), extra=(f"--policy.path={diffusion}",)
    )
    with pytest.raises(TrainError, match="not ACT"):
        prepare(request)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("resume", [True, False])
def test_a_checkpoint_brings_its_backbone_no_imagenet_file_needed(tmp_path, monkeypatch, resume):
    """Resuming or fine-tuning: no ImageNet file looked for or downloaded, even with an empty
    torch cache; --backbone-weights is refused as unused."""

    def no_download(*args, **kwargs):
        raise AssertionError("the ImageNet weights were fetched")

    monkeypatch.setattr(backbone, "download_weights", no_download)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    extra = () if resume else (f"--policy.path={tmp_path / 'ckpt'}",)
    options = TrainOptions(tmp_path / "run", dataset_repo_id="a/b", resume=resume, extra=extra)
    plan = _backbone(TrainRequest(output=tmp_path / "run"), options, tmp_path / "private")
    assert not plan.pretrained and plan.torch_home is None and "trained weights" in plan.note
    request = TrainRequest(output=tmp_path / "run", backbone_weights=tmp_path / "w.pth")
    with pytest.raises(TrainError, match="--backbone-weights is not used here"):
        _backbone(request, options, tmp_path / "private")


@pytest.fixture
def local_hub(monkeypatch):
    """A stand-in Hugging Face Hub on localhost answering as the real one does: the file, or a
    404 with the X-Error-Code huggingface_hub maps to its errors. Exercises the real request."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from huggingface_hub import constants

    files = {
        "/datasets/someone/ds/resolve/main/meta/info.json": json.dumps({"features": GOOD}),
        "/someone/act/resolve/main/config.json": json.dumps({"type": "act"}),
    }
    repos = ("/datasets/someone/ds/", "/someone/act/", "/someone/empty/")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            self.send_response(200 if body else 404)
            if body is None:
                known = self.path.startswith(repos)
                self.send_header("X-Error-Code", "EntryNotFound" if known else "RepoNotFound")
            self.end_headers()
            self.wfile.write((body or "").encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    template = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # read at import by huggingface_hub
    yield endpoint
    server.shutdown()
    server.server_close()


def test_hub_requests_against_a_local_hub(local_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_LEROBOT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert inspect_dataset("someone/ds").cameras == (("front", 48, 64), ("handeye", 48, 64))
    with pytest.raises(DatasetError, match="does not exist on the Hugging Face Hub"):
        inspect_dataset("someone/typo")
    assert check_pretrained_policy("someone/act") == {"type": "act"}
    with pytest.raises(TrainError, match="hub policy someone/empty has no config.json"):
        check_pretrained_policy("someone/empty")
    from huggingface_hub import constants

    dead = "http://127.0.0.1:9/{repo_id}/resolve/{revision}/{filename}"  # nothing listens
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", dead)
    with pytest.raises(DatasetError, match="cannot read meta/info.json .*check the network"):
        inspect_dataset("someone/ds")
