"""The built-in camera readers: OpenCV capture (devices and looping video files) and synthetic
moving shapes. Each fills a caller's (H,W,3) uint8 BGR buffer; act_tool.hw.camera_sources
registers them as the `device`, `file` and `synthetic` source kinds."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from act_tool.hw.camera_sources import CameraConfig, CameraError, CameraSource, source_help


def open_synthetic(
    name: str, source: CameraSource, config: CameraConfig, context: Mapping[str, Any]
) -> SyntheticReader:
    return SyntheticReader(source.seed, config)


def open_capture(
    name: str, source: CameraSource, config: CameraConfig, context: Mapping[str, Any]
) -> CaptureReader:
    return CaptureReader(name, source, config)


class SyntheticReader:
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


class CaptureReader:
    """cv2.VideoCapture on a device (the device paces) or a file (paced, looping at its fps)."""

    def __init__(self, name: str, source: CameraSource, config: CameraConfig) -> None:
        self._name, self._source = name, source
        self._looping = source.kind == "file"
        if self._looping:
            if not Path(source.location).is_file():
                raise CameraError(
                    f"Camera {name!r}: video file {source.location!r} not found ({source_help()})."
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
