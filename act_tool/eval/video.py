"""An episode's video: every camera side by side, one frame per control tick, MP4 (OpenCV's
FFmpeg backend, codec mp4v), written to a temporary name and renamed when the episode ends."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from act_tool.errors import ActToolError


class EpisodeVideo:
    def __init__(self, path: Path, frames: Mapping[str, np.ndarray], fps: float) -> None:
        """`frames`: the cameras' (1,H,W,3) BGR buffers, read at each `add()`."""
        self.path = Path(path)
        self._frames = list(frames.values())
        height = max(f.shape[1] for f in self._frames)
        width = sum(f.shape[2] for f in self._frames)
        self._canvas = np.zeros((height, width, 3), np.uint8)
        self._tmp = self.path.with_name(f".{self.path.stem}.tmp{os.getpid()}{self.path.suffix}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = cv2.VideoWriter(
            str(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height)
        )
        if not self._writer.isOpened():
            raise ActToolError(
                f"cannot write video {self.path}: OpenCV has no MP4 encoder here or the folder "
                "is not writable. Drop --video, or choose a writable folder."
            )
        self.count = 0

    def add(self) -> None:
        x = 0
        for frame in self._frames:
            h, w = frame.shape[1:3]
            self._canvas[:h, x : x + w] = frame[0]
            x += w
        self._writer.write(self._canvas)
        self.count += 1

    def close(self) -> None:
        """Finish the file and give it its name (nothing is left when no frame was added)."""
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        if self.count:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
