"""Which cameras open here, at what size and rate: what `act-tool doctor` and `find-cameras` show.

A probe opens a source through the same reader `act-tool run` uses (act_tool.hw.camera_sources),
at the size and rate asked for or, by default, the source's own (its default profile, as
`lerobot-find-cameras` reports it), reads frames for about a second (paced at the reader's rate
where the reader sets one, as a camera's capture thread paces it) and measures the rate they
arrive at.

    probe = probe_camera("/dev/video0")      # CameraProbe(opened=True, width=640, ...)
    probes = [probe_camera(s) for s in camera_candidates()]
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from act_tool.hw.camera_sources import CameraConfig, CameraSource, open_reader, parse_source

MAX_INDEX = 10  # indices tried where there are no /dev/video* nodes (macOS, Windows)
PROBE_S = 1.0  # how long frames are read
FIRST_FRAME_S = 3.0  # how long a source may take to deliver its first frame
DEFAULT_FPS = 30.0  # asked of a source that does not report its rate


@dataclass(frozen=True)
class CameraProbe:
    """What one source did when opened: its size, the rate asked for and delivered, or why not."""

    source: str  # as --cameras takes it: "/dev/video0", "0", a video file's path
    kind: str  # the source kind (device, file, synthetic, ...)
    opened: bool
    width: int = 0
    height: int = 0
    requested_fps: float = 0.0
    delivered_fps: float = 0.0
    frames: int = 0
    error: str = ""
    frame: np.ndarray | None = field(default=None, repr=False, compare=False)  # the last one

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "kind": self.kind,
            "opened": self.opened,
            "width": self.width,
            "height": self.height,
            "requested_fps": round(self.requested_fps, 2),
            "delivered_fps": round(self.delivered_fps, 2),
            "frames": self.frames,
            "error": self.error,
        }


def camera_candidates() -> list[str]:
    """The devices to try: /dev/video* on Linux (in number order), else indices 0..MAX_INDEX-1."""
    if sys.platform.startswith("linux"):
        nodes = Path("/dev").glob("video*")
        return [str(p) for p in sorted(nodes, key=lambda p: (len(p.name), p.name))]
    return [str(i) for i in range(MAX_INDEX)]


def _open_capture(source: CameraSource) -> cv2.VideoCapture:
    if source.kind == "file":
        return cv2.VideoCapture(source.location)
    target: int | str = int(source.location) if source.location.isdigit() else source.location
    if sys.platform.startswith("linux"):
        return cv2.VideoCapture(target, cv2.CAP_V4L2)
    return cv2.VideoCapture(target)


def native_profile(source: CameraSource) -> tuple[int, int, float] | None:
    """(width, height, fps) a device or file delivers when nothing is asked; None when it does
    not open or reports no size (other kinds: None)."""
    if source.kind not in ("device", "file"):
        return None
    cap = _open_capture(source)
    try:
        if not cap.isOpened():
            return None
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
    finally:
        cap.release()
    if width <= 0 or height <= 0:
        return None
    return width, height, fps if 0 < fps <= 1000 else DEFAULT_FPS


def probe_camera(
    text: str,
    seconds: float = PROBE_S,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> CameraProbe:
    """Open source `text` (as --cameras names it), read for `seconds`, and say what came."""
    try:
        source = parse_source(text)
    except Exception as e:
        return CameraProbe(text, "?", False, error=str(e))
    try:
        native = native_profile(source)
        if native is None and source.kind in ("device", "file"):
            return CameraProbe(text, source.kind, False, error=f"OpenCV could not open {text}")
        w, h, f = native or (640, 480, DEFAULT_FPS)
        config = CameraConfig(width=width or w, height=height or h, fps=fps or f)
        reader = open_reader("probe", source, config)
    except Exception as e:
        return CameraProbe(text, source.kind, False, error=str(e))
    try:
        frames, delivered, last = _read_for(reader, config, seconds)
    except Exception as e:
        return CameraProbe(
            text, source.kind, False, config.width, config.height, config.fps, error=str(e)
        )
    finally:
        reader.close()
    error = "" if frames else f"opened but gave no frame within {FIRST_FRAME_S:g} s"
    return CameraProbe(
        text,
        source.kind,
        bool(frames),
        config.width,
        config.height,
        config.fps,
        delivered,
        frames,
        error,
        last,
    )


def _read_for(reader, config: CameraConfig, seconds: float) -> tuple[int, float, np.ndarray | None]:
    """Read frames for `seconds` after the first one; (frames, their rate, the last frame)."""
    buf = np.empty(config.shape, dtype=np.uint8)
    start = time.perf_counter()
    while not reader.read_into(buf):
        if time.perf_counter() - start > FIRST_FRAME_S:
            return 0, 0.0, None
        time.sleep(0.005)
    period = 1.0 / reader.fps if reader.fps else 0.0
    first = last_stamp = time.perf_counter()
    frames = 1
    while last_stamp - first < seconds:
        if period:
            time.sleep(max(0.0, first + frames * period - time.perf_counter()))
        if reader.read_into(buf):
            frames += 1
            last_stamp = time.perf_counter()
        elif time.perf_counter() - first > seconds + FIRST_FRAME_S:
            break  # the source stopped delivering
        else:
            time.sleep(0.002)
    rate = (frames - 1) / (last_stamp - first) if frames > 1 and last_stamp > first else 0.0
    return frames, rate, buf


def save_frame(probe: CameraProbe, directory: Path) -> Path | None:
    """Write the probe's last frame as PNG (named like lerobot-find-cameras' images)."""
    if probe.frame is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", probe.source)
    path = directory / f"opencv_{safe}.png"
    if not cv2.imwrite(str(path), probe.frame):
        raise OSError(f"OpenCV could not write {path}")
    return path


def cameras_fragment(
    probes: list[CameraProbe], names: tuple[str, ...] = ("front", "handeye")
) -> str:
    """`--cameras front=/dev/video0,handeye=/dev/video2` for the first cameras that opened."""
    sources = [p.source for p in probes if p.opened]
    if not sources:
        return ""
    pairs = [f"{name}={src}" for name, src in zip(names, sources, strict=False)]
    return "--cameras " + ",".join(pairs)
