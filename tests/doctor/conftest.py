"""Fixtures of the doctor's tests: a short video file (a camera source), a calibration folder,
and a machine without a GPU whatever this one has."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from act_tool import gpu

VIDEO_SIZE = (64, 48)  # width, height
VIDEO_FPS = 15.0


def write_video(path: Path, frames: int = 20, fps: float = VIDEO_FPS) -> Path:
    """A small MJPG .avi (OpenCV's own encoder: present in every opencv build)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, VIDEO_SIZE)
    assert writer.isOpened(), "OpenCV cannot write MJPG .avi files here"
    w, h = VIDEO_SIZE
    for i in range(frames):
        frame = np.zeros((h, w, 3), np.uint8)
        cv2.circle(frame, (5 + 2 * i, h // 2), 6, (0, 200, 255), -1)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def video_file(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.avi")


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CUDA device and no driver, whatever this machine has."""
    monkeypatch.setattr(gpu, "compute_capability", lambda: None)
    monkeypatch.setattr(gpu, "cuda_driver_version", lambda: None)


@pytest.fixture
def calibration_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty LeRobot calibration root ($HF_LEROBOT_CALIBRATION)."""
    root = tmp_path / "calibration"
    monkeypatch.setenv("HF_LEROBOT_CALIBRATION", str(root))
    return root
