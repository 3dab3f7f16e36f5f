"""Camera probes: what a source delivers (size, rate asked and delivered), frames saved, the
--cameras fragment."""

from __future__ import annotations

import cv2
import pytest

from act_tool.hw import camera_probe
from act_tool.hw.camera_probe import CameraProbe
from tests.doctor.conftest import VIDEO_FPS, write_video


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "clip.avi")


def test_a_video_file_at_its_own_size_and_rate(video):
    probe = camera_probe.probe_camera(str(video), seconds=0.5)
    assert probe.opened, probe.error
    assert (probe.kind, probe.width, probe.height) == ("file", 64, 48)
    assert probe.requested_fps == VIDEO_FPS
    assert VIDEO_FPS / 3 < probe.delivered_fps <= VIDEO_FPS * 1.05  # paced: never faster
    assert probe.frame is not None and probe.frame.shape == (48, 64, 3)
    assert probe.to_json()["width"] == 64 and "frame" not in probe.to_json()


def test_a_size_the_source_does_not_deliver_is_refused(video):
    probe = camera_probe.probe_camera(str(video), seconds=0.2, width=640, height=480)
    assert not probe.opened and "delivers 64x48 frames" in probe.error


def test_synthetic_sources_use_the_readers_registry():
    probe = camera_probe.probe_camera("synthetic", seconds=0.2, width=32, height=24, fps=50)
    assert probe.opened and (probe.width, probe.height, probe.requested_fps) == (32, 24, 50)


def test_a_missing_file(tmp_path):
    probe = camera_probe.probe_camera(str(tmp_path / "nope.mp4"), seconds=0.2)
    assert not probe.opened and probe.error


def test_save_frame_names_it_like_lerobot(video, tmp_path):
    probe = camera_probe.probe_camera(str(video), seconds=0.2)
    path = camera_probe.save_frame(probe, tmp_path / "images")
    assert path.name.startswith("opencv_") and path.suffix == ".png"
    assert cv2.imread(str(path)).shape == (48, 64, 3)
    assert camera_probe.save_frame(CameraProbe("x", "file", False), tmp_path) is None


def test_fragment_names_the_first_two_that_opened():
    probes = [
        CameraProbe("/dev/video0", "device", True),
        CameraProbe("/dev/video1", "device", False),
        CameraProbe("/dev/video2", "device", True),
        CameraProbe("/dev/video4", "device", True),
    ]
    assert camera_probe.cameras_fragment(probes) == (
        "--cameras front=/dev/video0,handeye=/dev/video2"
    )
    assert camera_probe.cameras_fragment(probes[1:2]) == ""


def test_candidates_per_platform(monkeypatch):
    monkeypatch.setattr(camera_probe.sys, "platform", "win32")
    assert camera_probe.camera_candidates() == [str(i) for i in range(camera_probe.MAX_INDEX)]
