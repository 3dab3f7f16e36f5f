"""Cameras that always hold their newest frame: OpenCV devices, looping video files, synthetic.

Each camera captures on a background thread into preallocated buffers (two per camera, swapped
under a lock), so the control loop copies the newest frame into its own buffer and allocates
nothing. Every frame carries its capture time (time.perf_counter); a frame older than the
configured limit, or a camera whose thread died, raises CameraError instead of handing the
policy an old picture. Frames are uint8 HWC in BGR order, as OpenCV delivers them.

    with CameraSet(parse_camera_args("front=0,handeye=synthetic"), CameraConfig()) as cams:
        buffers = cams.allocate()
        ages = cams.read_into(buffers)   # {"front": 0.012, "handeye": 0.004}
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
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

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise CameraError(f"Camera size must be positive, got {self.width}x{self.height}.")
        if not 0 < self.fps <= 1000:
            raise CameraError(f"Camera fps must be in (0, 1000], got {self.fps}.")
        if self.max_age_s <= 0 or self.open_timeout_s <= 0:
            raise CameraError("max_age_s and open_timeout_s must be positive.")
        if self.fourcc is not None and len(self.fourcc) != 4:
            raise CameraError(f"fourcc must be four characters like 'MJPG', got {self.fourcc!r}.")

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
        pos = self._start + self._speed * i
        r = max(2, min(h, w) // 8)
        cv2.circle(buf, (self._bounce(pos[0], w), self._bounce(pos[1], h)), r, self._colors[0], -1)
        x, y = self._bounce(pos[2], w), self._bounce(pos[3], h)
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


# --- one camera ---------------------------------------------------------------------------------


class Camera:
    """One camera whose background thread keeps only the newest frame and its capture time."""

    def __init__(self, name: str, source: CameraSource, config: CameraConfig) -> None:
        self.name, self.source, self.config = name, source, config
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader: _Reader | None = None
        self._front = np.zeros(config.shape, np.uint8)  # the newest complete frame
        self._back = np.zeros(config.shape, np.uint8)  # the frame being captured
        self._stamp = 0.0
        self._frames = 0
        self._failure: str | None = None

    @property
    def frames_captured(self) -> int:
        return self._frames

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Camera:
        """Open the source, check its first frame, and start capturing. Raises CameraError."""
        if self._thread is not None:
            raise CameraError(f"Camera {self.name!r} is already started.")
        if self.source.kind is SourceKind.SYNTHETIC:
            self._reader = _SyntheticReader(self.source.seed, self.config)
        else:
            self._reader = _CaptureReader(self.name, self.source, self.config)
        deadline = time.perf_counter() + self.config.open_timeout_s
        try:
            while not self._reader.read_into(self._back):
                if time.perf_counter() > deadline:
                    raise CameraError(
                        f"Camera {self.name!r} ({self.source}) opened but gave no frame within "
                        f"{self.config.open_timeout_s:g} s: is another program using it?"
                    )
                time.sleep(0.01)
        except BaseException:
            self._reader.close()
            self._reader = None
            raise
        self._publish(time.perf_counter())
        self._failure = None
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _publish(self, stamp: float) -> None:
        with self._lock:
            self._front, self._back = self._back, self._front
            self._stamp = stamp
            self._frames += 1

    def _run(self) -> None:
        reader = self._reader
        assert reader is not None
        period = 1.0 / reader.fps if reader.fps else 0.0
        next_tick = time.perf_counter()
        failing_since: float | None = None
        give_up_s = max(1.0, 5.0 / self.config.fps)
        try:
            while not self._stop.is_set():
                if period:
                    next_tick += period
                    delay = next_tick - time.perf_counter()
                    if delay > 0 and self._stop.wait(delay):
                        break
                    if delay < -period:  # fell behind: drop the backlog, do not burst
                        next_tick = time.perf_counter()
                if reader.read_into(self._back):
                    self._publish(time.perf_counter())
                    failing_since = None
                    continue
                now = time.perf_counter()
                failing_since = failing_since or now
                if now - failing_since > give_up_s:
                    self._failure = (
                        f"Camera {self.name!r} ({self.source}) stopped delivering frames for "
                        f"{now - failing_since:.1f} s: was it unplugged?"
                    )
                    return
                self._stop.wait(0.005)
        except Exception as e:  # surfaced to readers by latest()
            self._failure = (
                str(e)
                if isinstance(e, CameraError)
                else f"Camera {self.name!r} ({self.source}) failed while capturing: {e!r}"
            )

    def stop(self) -> None:
        """Stop capturing and release the source; safe to call more than once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15.0)
            if self._thread.is_alive():  # stuck in a driver read: releasing now could crash
                return
            self._thread = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> Camera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check(self, max_age_s: float | None = None) -> float:
        """The newest frame's age, without copying it; raises CameraError like `latest()`."""
        limit = self.config.max_age_s if max_age_s is None else max_age_s
        if self._failure is not None:
            raise CameraError(self._failure)
        if self._thread is None:
            raise CameraError(f"Camera {self.name!r} is not started (use start() or `with`).")
        age = time.perf_counter() - self._stamp
        if age > limit:
            raise CameraError(
                f"Camera {self.name!r} ({self.source}): newest frame is {age * 1e3:.0f} ms old, "
                f"over the {limit * 1e3:.0f} ms limit: the camera stalled or was disconnected."
            )
        return age

    def latest(
        self, out: np.ndarray | None = None, max_age_s: float | None = None
    ) -> tuple[np.ndarray, float]:
        """Copy the newest frame into `out` (H,W,3 or 1,H,W,3 uint8) and return it with its age.

        Without `out` a new array is returned. Raises CameraError when the camera is not running,
        died, or its newest frame is older than max_age_s (default: the config's).
        """
        limit = self.config.max_age_s if max_age_s is None else max_age_s
        if self._failure is not None:
            raise CameraError(self._failure)
        if self._thread is None:
            raise CameraError(f"Camera {self.name!r} is not started (use start() or `with`).")
        if out is None:
            out = np.empty(self.config.shape, np.uint8)
        dst = out[0] if out.ndim == 4 else out
        if dst.shape != self.config.shape or out.dtype != np.uint8:
            raise CameraError(
                f"Camera {self.name!r}: output buffer is {out.dtype}{list(out.shape)}, needs "
                f"uint8{list(self.config.shape)} or uint8{[1, *self.config.shape]}."
            )
        with self._lock:
            np.copyto(dst, self._front)
            age = time.perf_counter() - self._stamp
        if age > limit:
            raise CameraError(
                f"Camera {self.name!r} ({self.source}): newest frame is {age * 1e3:.0f} ms old, "
                f"over the {limit * 1e3:.0f} ms limit: the camera stalled or was disconnected."
            )
        return out, age


# --- several cameras ----------------------------------------------------------------------------


class CameraSet:
    """Several cameras opened together (all or none), read together, closed together."""

    def __init__(
        self,
        sources: Mapping[str, CameraSource],
        config: CameraConfig | Mapping[str, CameraConfig] | None = None,
    ) -> None:
        if not sources:
            raise CameraError("No cameras given: pass at least one NAME=SOURCE.")
        config = CameraConfig() if config is None else config
        if not isinstance(config, CameraConfig):
            missing = [n for n in sources if n not in config]
            if missing:
                raise CameraError(f"No camera config for {', '.join(map(repr, missing))}.")
        self.cameras: dict[str, Camera] = {
            name: Camera(name, src, config if isinstance(config, CameraConfig) else config[name])
            for name, src in sources.items()
        }
        self._list = tuple(self.cameras.values())
        self._stack: ExitStack | None = None

    @property
    def names(self) -> list[str]:
        return list(self.cameras)

    def __enter__(self) -> CameraSet:
        with ExitStack() as stack:
            for camera in self.cameras.values():
                stack.enter_context(camera)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def allocate(self, batch: bool = False) -> dict[str, np.ndarray]:
        """One zeroed frame buffer per camera, (H,W,3) or with batch=True (1,H,W,3)."""
        lead = (1,) if batch else ()
        return {n: np.zeros((*lead, *c.config.shape), np.uint8) for n, c in self.cameras.items()}

    def read_into(self, out: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Copy every camera's newest frame into out[name]; return each frame's age in seconds."""
        return {name: cam.latest(out[name])[1] for name, cam in self.cameras.items()}

    def check(self) -> None:
        """Raise CameraError if any camera died or stalled (copies no frame: cheap every tick)."""
        for cam in self._list:
            cam.check()

    def latest(self) -> dict[str, tuple[np.ndarray, float]]:
        """Every camera's newest frame (a new array) and its age: convenient, not for hot loops."""
        return {name: cam.latest() for name, cam in self.cameras.items()}
