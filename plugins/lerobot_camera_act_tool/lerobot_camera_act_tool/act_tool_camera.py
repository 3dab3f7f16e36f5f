"""The camera: a frame made (or decoded) on each read, at the configured size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from lerobot.cameras.camera import Camera
from lerobot.cameras.configs import ColorMode

from act_tool.hw.camera_readers import SyntheticReader
from act_tool.hw.camera_sources import CameraConfig as FrameConfig
from lerobot_camera_act_tool.config_act_tool_camera import ActToolCameraConfig


class ActToolCamera(Camera):
    def __init__(self, config: ActToolCameraConfig) -> None:
        super().__init__(config)
        self.config = config
        self._reader: Any = None
        self._capture: cv2.VideoCapture | None = None
        self._bgr = np.zeros((config.height, config.width, 3), dtype=np.uint8)

    def __str__(self) -> str:
        return f"ActToolCamera({self.config.source})"

    @property
    def is_connected(self) -> bool:
        return self._reader is not None or self._capture is not None

    @staticmethod
    def find_cameras() -> list[dict[str, Any]]:
        return []

    def connect(self, warmup: bool = True) -> None:
        cfg = self.config
        if cfg.source == "synthetic":
            frames = FrameConfig(width=cfg.width, height=cfg.height, fps=float(cfg.fps))
            self._reader = SyntheticReader(cfg.seed, frames)
            return
        if not Path(cfg.source).is_file():
            raise ConnectionError(
                f"act_tool camera: {cfg.source!r} is neither 'synthetic' nor a video file"
            )
        self._capture = cv2.VideoCapture(cfg.source)
        if not self._capture.isOpened():
            raise ConnectionError(f"act_tool camera: OpenCV cannot open {cfg.source}")

    def _next_bgr(self) -> np.ndarray:
        if self._reader is not None:
            self._reader.read_into(self._bgr)
            return self._bgr
        if self._capture is None:
            raise ConnectionError(f"{self} is not connected")
        ok, frame = self._capture.read()
        if not ok:  # the end of the file: loop
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._capture.read()
            if not ok:
                raise RuntimeError(f"act_tool camera: no frame from {self.config.source}")
        if frame.shape[:2] != self._bgr.shape[:2]:
            frame = cv2.resize(frame, (self.config.width, self.config.height))
        return frame

    def read(self) -> np.ndarray:
        bgr = self._next_bgr()
        if self.config.color_mode == ColorMode.RGB:
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return bgr.copy()

    def async_read(self, timeout_ms: float = 200) -> np.ndarray:
        return self.read()

    def read_latest(self, max_age_ms: int = 500) -> np.ndarray:
        return self.read()

    def disconnect(self) -> None:
        if self._capture is not None:
            self._capture.release()
        self._reader = self._capture = None
