"""Where `--record` writes: a LeRobot dataset through LeRobot's own API (`LeRobotDataset.create`
/ `resume`, `add_frame`, `save_episode`, `finalize`), in the feature layout of `act-tool dataset
sim` (observation.images.<camera> as video, observation.state, action, the joints' names),
videos encoded while the episode runs (streaming encoding). act_tool.eval.recording feeds it
from its writer thread.

Videos are H.264 (libx264 at its fastest preset) unless `--record-codec av1` asks for LeRobot's
default, SVT-AV1, which costs 4 to 6 times the CPU per 480x640 frame
(benchmarks/bench_codecs.py), CPU that a small robot computer's control loop needs. LeRobot's
tools and training decode either. `--resume` keeps the dataset's own codec.

Each saved episode is finalized at once, so an interrupted session leaves every finished
episode readable. A new dataset is written under a temporary name beside DIR and renamed to DIR
when its first episode is complete; `--resume` appends to an existing one.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from act_tool.errors import ActToolError, MissingDependencyError
from act_tool.spec import EngineSpec

# --record-codec -> LeRobot's RGBEncoderConfig fields (GOP, CRF and the rest: LeRobot's defaults)
CODECS: dict[str, dict[str, Any]] = {
    "h264": {"vcodec": "h264", "preset": "ultrafast"},
    "av1": {"vcodec": "libsvtav1"},  # LeRobot's default (its preset 12)
}
DEFAULT_CODEC = "h264"


class RecordingError(ActToolError):
    pass


def features(spec: EngineSpec) -> dict[str, dict]:
    """The dataset's features for a policy's spec (act-tool dataset sim's layout, as video)."""

    def vector(names) -> dict:  # fmt: skip
        return {"dtype": "float32", "shape": (len(names),), "names": list(names)}

    out: dict[str, dict] = {
        "observation.state": vector(spec.state_names),
        "action": vector(spec.action_names),
    }
    for cam in spec.cameras:
        out[f"observation.images.{cam.name}"] = {
            "dtype": "video",
            "shape": (cam.height, cam.width, 3),
            "names": ["height", "width", "channels"],
        }
    return out


def check_destination(root: Path, resume: bool) -> None:
    """Usage errors before the arm moves: an existing DIR needs --resume, --resume needs one."""
    info = root / "meta" / "info.json"
    if resume and not info.exists():
        raise RecordingError(
            f"--resume: {root} holds no LeRobot dataset (no meta/info.json); drop --resume to "
            "create it"
        )
    if not resume and root.exists():
        raise RecordingError(
            f"--record {root} already exists: add --resume to append episodes, or choose another "
            "folder"
        )


def require_lerobot():
    try:
        import logging

        logging.getLogger("lerobot.utils.import_utils").setLevel(logging.ERROR)
        import datasets
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError as e:
        raise MissingDependencyError("lerobot", "export", "--record (LeRobot datasets)") from e
    datasets.disable_progress_bars()
    return LeRobotDataset


def encoder_config(root: Path, resume: bool, codec: str) -> Any:
    """LeRobot's encoder settings: on resume the dataset's own (its first video's), else
    `codec`'s; checked against this machine's encoders now, before the arm moves."""
    from lerobot.configs.video import RGBEncoderConfig, encoder_config_from_video_info

    try:
        if resume:
            info = json.loads((root / "meta" / "info.json").read_text())
            videos = [f.get("info") for f in info["features"].values() if f["dtype"] == "video"]
            if videos and videos[0]:
                return encoder_config_from_video_info(videos[0])
        return RGBEncoderConfig(**CODECS[codec])
    except (OSError, KeyError, ValueError) as e:
        what = f"the video codec of {root}" if resume else f"--record-codec {codec}"
        raise RecordingError(
            f"{what}: {e}; record into another folder or choose a codec "
            f"this machine encodes ({', '.join(CODECS)})"
        ) from e


class Sink(Protocol):
    """Where the writer thread puts frames (LeRobotSink; tests use slow fakes)."""

    def add_frame(self, frame: dict[str, Any]) -> None: ...
    def save_episode(self) -> None: ...
    def discard_episode(self) -> None: ...
    def close(self) -> None: ...


class LeRobotSink:
    """A LeRobot dataset at `root`, opened on the first frame; see the module docstring."""

    def __init__(
        self, root: Path, spec: EngineSpec, fps: float, resume: bool, encoder: Any = None
    ) -> None:
        self.root, self.spec, self.fps, self.resume = root, spec, int(round(fps)), resume
        self._api = require_lerobot()
        self.encoder = encoder or encoder_config(root, resume, DEFAULT_CODEC)
        self._ds: Any = None
        self._staging: Path | None = None
        if resume:
            self._check_compatible()

    def _check_compatible(self) -> None:
        info = json.loads((self.root / "meta" / "info.json").read_text())
        theirs = {k: tuple(v["shape"]) for k, v in info["features"].items()}
        ours = {k: tuple(v["shape"]) for k, v in features(self.spec).items()}
        wrong = [k for k, shape in ours.items() if theirs.get(k) != shape]
        if wrong or info.get("fps") != self.fps:
            raise RecordingError(
                f"--resume: {self.root} was recorded at {info.get('fps')} fps with "
                f"{sorted(theirs)}; this policy records at {self.fps} fps with different "
                f"{', '.join(wrong) or 'rate'}: record into another folder"
            )

    def _open(self) -> Any:
        api = self._api
        if self.resume or self.root.exists():
            return api.resume(
                f"local/{self.root.name}",
                root=self.root,
                streaming_encoding=True,
                rgb_encoder=self.encoder,
            )
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=f".{self.root.name}.", dir=self.root.parent))
        return api.create(
            f"local/{self.root.name}",
            self.fps,
            features(self.spec),
            root=self._staging / "dataset",
            robot_type=self.spec.robot_type or "so101_follower",
            use_videos=True,
            streaming_encoding=True,
            rgb_encoder=self.encoder,
        )

    def add_frame(self, frame: dict[str, Any]) -> None:
        if self._ds is None:
            self._ds = self._open()
        self._ds.add_frame(frame)

    def save_episode(self) -> None:
        ds = self._ds
        if ds is None or not ds.has_pending_frames():
            return
        ds.save_episode()
        ds.finalize()  # readable now, whatever happens next
        self._ds = None
        if self._staging is not None:
            (self._staging / "dataset").rename(self.root)
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def discard_episode(self) -> None:
        if self._ds is not None and self._ds.has_pending_frames():
            self._ds.clear_episode_buffer()

    def close(self) -> None:
        if self._ds is not None:
            self.discard_episode()
            if self._staging is None:
                self._ds.finalize()
            self._ds = None
        if self._staging is not None:  # no episode was completed: nothing to keep
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None


SinkFactory = Callable[[Path, EngineSpec, float, bool], Sink]
