"""`act-tool find-cameras` on video files (the camera devices faked away), and the CLI's wiring."""

from __future__ import annotations

import cv2
import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.hw import camera_probe
from tests.doctor.conftest import VIDEO_FPS, write_video


def test_find_cameras_on_two_files(tmp_path):
    a, b = write_video(tmp_path / "a.avi"), write_video(tmp_path / "b.avi")
    images = tmp_path / "captured"
    args = ["find-cameras", "--camera", str(a), "--camera", str(b), "-o", str(images)]
    result = CliRunner().invoke(app, [*args, "--seconds", "0.3"])
    assert result.exit_code == 0, result.output
    assert f"{a}: 64x48, asked {VIDEO_FPS:g} fps, delivered" in result.output
    assert f"--cameras front={a},handeye={b}" in result.output
    saved = sorted(images.glob("*.png"))
    assert len(saved) == 2 and all(cv2.imread(str(p)).shape == (48, 64, 3) for p in saved)


def test_find_cameras_no_save_and_a_requested_size(tmp_path, video_file):
    args = ["find-cameras", "--camera", str(video_file), "--no-save", "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--width", "32", "--height", "24", "--seconds", "0.2"])
    assert result.exit_code == 1
    assert "does not deliver frames" in result.output and "delivers 64x48 frames" in result.output
    assert not (tmp_path / "o").exists()


def test_find_cameras_with_none_found(monkeypatch):
    monkeypatch.setattr(camera_probe, "camera_candidates", lambda: [])
    result = CliRunner().invoke(app, ["find-cameras"])
    assert result.exit_code == 1 and "no cameras found" in result.output


def test_find_cameras_searches_the_candidates(monkeypatch, video_file, tmp_path):
    monkeypatch.setattr(camera_probe, "camera_candidates", lambda: [str(video_file)])
    result = CliRunner().invoke(app, ["find-cameras", "-o", str(tmp_path), "--seconds", "0.2"])
    assert result.exit_code == 0, result.output
    assert f"--cameras front={video_file}" in result.output


@pytest.mark.parametrize("command", ["doctor", "find-port", "find-cameras"])
def test_commands_are_registered(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
