"""What `act-tool train` checks about a dataset before any work starts.

A local dataset (a directory) is read from its `meta/info.json`. A value that looks like a path
but names nothing is a typo, not a hub repo id. A hub repo id is read from LeRobot's cache, else
(online) its `meta/info.json` is fetched from the hub; offline, an uncached hub dataset is an
error, since LeRobot could not download it either.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from act_tool.train.errors import DatasetError
from act_tool.train.hub import fetch_json, hub_offline

STATE = "observation.state"
ACTION = "action"
IMAGE_PREFIX = "observation.images."
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HUB_PREFIX = "hf://datasets/"  # an explicit hub id, even where a local folder has its owner's name


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset as training sees it. `root` is None for a hub dataset (LeRobot finds it)."""

    repo_id: str
    root: Path | None
    source: str  # where meta/info.json was read: the directory, the cache, or the hub
    cameras: tuple[tuple[str, int, int], ...] = ()  # (name, height, width)
    state_dim: int = 0
    action_dim: int = 0
    fps: int = 0
    episodes: int = 0
    frames: int = 0

    @property
    def is_local(self) -> bool:
        return self.root is not None

    def describe(self) -> str:
        cams = ", ".join(f"{n} {h}x{w}" for n, h, w in self.cameras)
        where = self.root if self.root is not None else f"hub {self.repo_id} ({self.source})"
        return (
            f"dataset {where}: {self.episodes} episodes, {self.frames} frames at {self.fps} fps, "
            f"state {self.state_dim}, action {self.action_dim}, cameras: {cams}"
        )


def lerobot_home() -> Path:
    """LeRobot's dataset cache (HF_LEROBOT_HOME), computed without importing lerobot."""
    if "HF_LEROBOT_HOME" in os.environ:
        return Path(os.environ["HF_LEROBOT_HOME"]).expanduser()
    hf_home = os.environ.get("HF_HOME", str(Path("~/.cache/huggingface").expanduser()))
    return Path(hf_home).expanduser() / "lerobot"


def _image_size(name: str, feature: dict, where: str) -> tuple[int, int]:
    shape = feature.get("shape")
    names = feature.get("names")
    if not isinstance(shape, list | tuple) or len(shape) != 3:
        raise DatasetError(f"{where}: camera {name} has shape {shape}, expected (H, W, 3)")
    if isinstance(names, list) and len(names) == 3 and "height" in names and "width" in names:
        return int(shape[names.index("height")]), int(shape[names.index("width")])
    return int(shape[0]), int(shape[1])


def _vector_dim(info_features: dict, key: str, where: str) -> int:
    feature = info_features.get(key)
    if feature is None:
        raise DatasetError(
            f"{where} has no '{key}' feature: ACT needs observation.state, action and at least "
            "one observation.images.* camera (record the dataset with the robot's joints)"
        )
    shape = feature.get("shape")
    if not isinstance(shape, list | tuple) or len(shape) != 1 or int(shape[0]) < 1:
        raise DatasetError(f"{where}: '{key}' has shape {shape}, expected a vector (N,)")
    return int(shape[0])


def check_info(info: dict, where: str) -> dict:
    """Validate a parsed info.json; return the fields of a DatasetSummary."""
    features = info.get("features")
    if not isinstance(features, dict):
        raise DatasetError(f"{where}: meta/info.json has no 'features': not a LeRobot dataset")
    state_dim = _vector_dim(features, STATE, where)
    action_dim = _vector_dim(features, ACTION, where)
    cameras = []
    for key, feature in features.items():
        if key.startswith(IMAGE_PREFIX) and feature.get("dtype") in ("image", "video"):
            cameras.append((key[len(IMAGE_PREFIX) :], *_image_size(key, feature, where)))
    if not cameras:
        raise DatasetError(
            f"{where} has no camera (no observation.images.* feature): ACT needs at least one"
        )
    sizes = {(h, w) for _, h, w in cameras}
    if len(sizes) > 1:
        listing = ", ".join(f"{n} {h}x{w}" for n, h, w in cameras)
        raise DatasetError(
            f"{where}: cameras have different sizes ({listing}); the exported engine takes one "
            "size for all cameras: record (or resize) every camera to the same height and width"
        )
    return dict(
        cameras=tuple(cameras),
        state_dim=state_dim,
        action_dim=action_dim,
        fps=int(info.get("fps", 0)),
        episodes=int(info.get("total_episodes", 0)),
        frames=int(info.get("total_frames", 0)),
    )


def read_info(root: Path) -> dict:
    path = root / "meta" / "info.json"
    if not path.is_file():
        raise DatasetError(
            f"{root} is not a LeRobot dataset: {path} is missing "
            "(make one with `act-tool dataset synth` or LeRobot's recorder)"
        )
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path} cannot be read as JSON: {e}") from e


def looks_like_path(text: str) -> bool:
    """A value meant as a local directory: starts with . / ~, has more than one separator, or
    its parent folder exists here (`demo-out/dta` beside a `demo-out` folder)."""
    if text.startswith((".", "/", "~")) or Path(text).is_absolute():
        return True
    seps = text.count("/") + (text.count(os.sep) if os.sep != "/" else 0)
    if seps > 1:
        return True
    parent = Path(text).expanduser().parent
    return parent != Path(".") and parent.is_dir()


def cached_info(repo_id: str) -> Path | None:
    """meta/info.json of a hub dataset LeRobot already holds: `$HF_LEROBOT_HOME/<repo_id>`
    (older LeRobot, or a given root) or its snapshot cache `$HF_LEROBOT_HOME/hub`."""
    legacy = lerobot_home() / repo_id / "meta" / "info.json"
    if legacy.is_file():
        return legacy
    repo_dir = lerobot_home() / "hub" / ("datasets--" + repo_id.replace("/", "--"))
    found = sorted(
        (repo_dir / "snapshots").glob("*/meta/info.json"), key=lambda p: p.stat().st_mtime
    )
    return found[-1] if found else None


def inspect_dataset(dataset: str | Path) -> DatasetSummary:
    """Check a local dataset directory or a hub repo id; raise DatasetError when unusable."""
    text = str(dataset)
    explicit_hub = text.startswith(HUB_PREFIX)
    path = Path(text).expanduser()
    if not explicit_hub and path.is_dir():
        root = path.resolve()
        fields = check_info(read_info(root), str(root))
        return DatasetSummary(repo_id=f"local/{root.name}", root=root, source=str(root), **fields)
    if not explicit_hub and looks_like_path(text):
        hint = ""
        if HUB_ID.match(text):
            hint = f" (for the hub dataset of that name, pass --dataset {HUB_PREFIX}{text})"
        raise DatasetError(
            f"no dataset directory at {text}: {path.resolve()} does not exist; check the path "
            f"(make a dataset with `act-tool dataset synth -o {text}`){hint}"
        )
    repo_id = text[len(HUB_PREFIX) :] if explicit_hub else text
    if not HUB_ID.match(repo_id):
        raise DatasetError(
            f"no dataset at {text}: give a local dataset directory or a hub repo id (owner/name)"
        )
    cached = cached_info(repo_id)
    if cached is not None:
        where = f"hub dataset {repo_id} (cached at {cached.parent.parent})"
        fields = check_info(read_info(cached.parent.parent), where)
        return DatasetSummary(repo_id=repo_id, root=None, source="cached", **fields)
    what = f"hub dataset {repo_id}"
    if hub_offline():  # LeRobot reads only its own caches offline: nothing else would do
        raise DatasetError(
            f"{what} is not in LeRobot's cache ({lerobot_home()}) and HF_HUB_OFFLINE is set: "
            "download it on a connected machine first, or unset HF_HUB_OFFLINE"
        )
    info = fetch_json(repo_id, "meta/info.json", "dataset", what, DatasetError)
    fields = check_info(info, what)
    return DatasetSummary(
        repo_id=repo_id, root=None, source="checked on the hub; LeRobot downloads it", **fields
    )
