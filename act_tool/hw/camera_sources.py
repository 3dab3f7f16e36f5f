"""Camera sources, settings and frame readers: device indices and paths, video files, synthetic.

`parse_camera_args` reads the CLI's `--cameras front=0,handeye=synthetic`; `CameraConfig` is what
every camera is asked for. A reader fills a given buffer with the next frame (cameras.py runs it
on a capture thread).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from act_tool.errors import ActToolError

_SOURCE_HELP = (
    "a source is a device index (0), a device path (/dev/video0), a video file (clip.avi), "
    "or 'synthetic' (optionally 'synthetic:SEED')"
)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class CameraError(ActToolError):
    """A camera that cannot be opened, delivers the wrong size, stalls, or died."""


class SourceKind(StrEnum):
    DEVICE = "device"
    FILE = "file"
    SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class CameraSource:
    """Where frames come from: a device (index or path), a video file, or synthetic shapes."""

    kind: SourceKind
    location: str = ""  # "0" or "/dev/video0" (device), a file path (file), "" (synthetic)
    seed: int = 0  # synthetic only: the same seed draws the same frames

    @classmethod
    def parse(cls, text: str, default_seed: int = 0) -> CameraSource:
        text = text.strip()
        if not text:
            raise CameraError(f"Empty camera source: {_SOURCE_HELP}.")
        if text.isdigit():
            return cls(SourceKind.DEVICE, text)
        if text.startswith("/dev/"):
            return cls(SourceKind.DEVICE, text)
        if text == "synthetic" or text.startswith("synthetic:"):
            seed_text = text.removeprefix("synthetic").removeprefix(":")
            if seed_text and not seed_text.isdigit():
                raise CameraError(f"Bad synthetic seed in {text!r}: use e.g. 'synthetic:3'.")
            return cls(SourceKind.SYNTHETIC, "", int(seed_text) if seed_text else default_seed)
        return cls(SourceKind.FILE, text)

    def __str__(self) -> str:
        if self.kind is SourceKind.SYNTHETIC:
            return f"synthetic:{self.seed}"
        return f"{self.kind.value} {self.location}"


def parse_camera_args(text: str) -> dict[str, CameraSource]:
    """Parse the CLI's `--cameras front=0,handeye=synthetic` into {name: source}, in order.

    Unseeded synthetic cameras get their position as seed, so two of them differ.
    """
    cameras: dict[str, CameraSource] = {}
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or not all(items):
        raise CameraError(f"Bad --cameras {text!r}: expected NAME=SOURCE[,NAME=SOURCE...].")
    for position, item in enumerate(items):
        name, sep, source = (part.strip() for part in item.partition("="))
        if not sep:
            raise CameraError(
                f"Bad camera {item!r} in {text!r}: expected NAME=SOURCE, e.g. front=0; "
                f"{_SOURCE_HELP}."
            )
        if not _NAME.match(name):
            raise CameraError(
                f"Bad camera name {name!r} in {text!r}: use letters, digits and underscores, "
                "starting with a letter (the name of the policy's observation.images.NAME)."
            )
        if name in cameras:
            raise CameraError(f"Camera {name!r} is named twice in {text!r}.")
        try:
            cameras[name] = CameraSource.parse(source, default_seed=position)
        except CameraError as e:
            raise CameraError(f"Camera {name!r}: {e}") from e
    return cameras


@dataclass(frozen=True)
class CameraConfig:
    """What to ask every camera for, and how old a frame may be before it is refused."""

    width: int = 640
    height: int = 480
    fps: float = 30.0
    max_age_s: float = 0.5  # latest() raises when the newest frame is older than this
    open_timeout_s: float = 10.0  # how long start() waits for the first frame
    fourcc: str | None = None  # devices only, e.g. "MJPG" for high resolutions over USB 2
    # start() measures the rate over this many frame intervals (0: no measurement) and refuses
    # a camera slower than min_fps_ratio * fps
    rate_check_frames: int = 10
    min_fps_ratio: float = 0.8

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise CameraError(f"Camera size must be positive, got {self.width}x{self.height}.")
        if not 0 < self.fps <= 1000:
            raise CameraError(f"Camera fps must be in (0, 1000], got {self.fps}.")
        if self.max_age_s <= 0 or self.open_timeout_s <= 0:
            raise CameraError("max_age_s and open_timeout_s must be positive.")
        if self.fourcc is not None and len(self.fourcc) != 4:
            raise CameraError(f"fourcc must be four characters like 'MJPG', got {self.fourcc!r}.")
        if self.rate_check_frames < 0 or not 0 < self.min_fps_ratio <= 1:
            raise CameraError("rate_check_frames must be >= 0 and min_fps_ratio in (0, 1].")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.height, self.width, 3


# --- frame readers: fill a given buffer with the next frame -------------------------------------


class _Reader(Protocol):
    fps: float | None  # pace to this rate (files, synthetic); None: the device paces itself

    def read_into(self, buf: np.ndarray) -> bool: ...

    def close(self) -> None: ...


class _SyntheticReader:
    """Moving shapes drawn with OpenCV; frame i depends only on (seed, size, i)."""

    def __init__(self, seed: int, config: CameraConfig) -> None:
        self.fps: float | None = config.fps
        h, w = config.height, config.width
        rng = np.random.default_rng(seed)
        ramp = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        tint = rng.uniform(40, 200, size=3).astype(np.float32)
        shade = np.linspace(0.5, 1, h, dtype=np.float32)[:, None, None]
        self._background = (tint * (0.4 + 0.6 * ramp) * shade).astype(np.uint8)
        self._speed = rng.uniform(0.5, 2.0, size=4) * max(h, w) / 100  # pixels per frame
        self._start = rng.uniform(0, 1, size=4) * (w, h, w, h)
        self._pos = np.empty(4)  # the shapes' positions, rewritten every frame
        self._colors = [tuple(int(c) for c in rng.integers(0, 256, size=3)) for _ in range(2)]
        self._index = 0

    @staticmethod
    def _bounce(x: float, size: int) -> int:
        period = 2 * max(size - 1, 1)
        x %= period
        return int(x if x < size else period - x)

    def read_into(self, buf: np.ndarray) -> bool:
        h, w = buf.shape[:2]
        i = self._index
        np.copyto(buf, self._background)
        pos = self._pos
        np.multiply(self._speed, i, out=pos)
        np.add(pos, self._start, out=pos)
        r = max(2, min(h, w) // 8)
        center = (self._bounce(pos.item(0), w), self._bounce(pos.item(1), h))
        cv2.circle(buf, center, r, self._colors[0], -1)
        x, y = self._bounce(pos.item(2), w), self._bounce(pos.item(3), h)
        cv2.rectangle(buf, (x - r, y - r // 2), (x + r, y + r // 2), self._colors[1], -1)
        cv2.putText(buf, str(i), (2, max(10, h // 10)), cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.3, h / 480), (255, 255, 255), 1)  # fmt: skip
        self._index += 1
        return True

    def close(self) -> None:
        pass


class _CaptureReader:
    """cv2.VideoCapture on a device (the device paces) or a file (paced, looping at its fps)."""

    def __init__(self, name: str, source: CameraSource, config: CameraConfig) -> None:
        self._name, self._source = name, source
        self._looping = source.kind is SourceKind.FILE
        if self._looping:
            if not Path(source.location).is_file():
                raise CameraError(
                    f"Camera {name!r}: video file {source.location!r} not found ({_SOURCE_HELP})."
                )
            self._cap = cv2.VideoCapture(source.location)
        else:
            self._cap = _open_device(name, source.location)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraError(f"Camera {name!r}: OpenCV could not open {source}.")
        self.fps: float | None = None
        if self._looping:
            reported = self._cap.get(cv2.CAP_PROP_FPS)
            self.fps = reported if reported > 0 else config.fps
            return
        cap = self._cap
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if config.fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*config.fourcc))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, config.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, config.height)
        cap.set(cv2.CAP_PROP_FPS, config.fps)
        got = cap.get(cv2.CAP_PROP_FPS)
        if 0 < got < config.fps - 0.5:
            cap.release()
            raise CameraError(
                f"Camera {name!r} ({source}) runs at {got:g} fps, but {config.fps:g} fps was "
                "requested: choose a rate it supports (see `v4l2-ctl --list-formats-ext`)."
            )

    def read_into(self, buf: np.ndarray) -> bool:
        ok, img = self._cap.read(buf)
        if not ok and self._looping:  # end of file: rewind and go on
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = self._cap.read(buf)
        if not ok:
            return False
        if img is not buf:  # OpenCV allocated a new image: the frame size differs from ours
            (h, w), (got_h, got_w) = buf.shape[:2], img.shape[:2]
            raise CameraError(
                f"Camera {self._name!r} ({self._source}) delivers {got_w}x{got_h} frames, but "
                f"{w}x{h} was requested (the policy's input size): choose a size the source "
                "supports, or re-export the policy for this size."
            )
        return True

    def close(self) -> None:
        self._cap.release()


def _open_device(name: str, location: str) -> cv2.VideoCapture:
    target: int | str = int(location) if location.isdigit() else location
    if sys.platform.startswith("linux"):
        path = Path(f"/dev/video{target}" if isinstance(target, int) else target)
        if not path.exists():
            found = ", ".join(sorted(str(p) for p in Path("/dev").glob("video*"))) or "none"
            raise CameraError(
                f"Camera {name!r}: no video device {path} (devices found: {found}). Check the "
                "cable and the index, or use a video file or 'synthetic' as the source."
            )
        return cv2.VideoCapture(target, cv2.CAP_V4L2)
    return cv2.VideoCapture(target)
