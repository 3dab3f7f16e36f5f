"""The cameras: frames of any size into the caller's array, depending on the arm's pose."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.helpers import NO_SIM, run_goals

mujoco = pytest.importorskip("mujoco", reason=NO_SIM)

from act_tool.sim.errors import RenderError  # noqa: E402

SIZES = ((96, 128), (240, 320))


def _frames(twin, h, w):
    out = {}
    for cam in ("front", "handeye"):
        frame = np.zeros((h, w, 3), dtype=np.uint8)
        assert twin.render(cam, frame) is frame
        out[cam] = frame
    return out


@pytest.mark.parametrize("size", SIZES)
def test_both_cameras_follow_the_arm(render_twin, size):
    twin = render_twin
    twin.reset(seed=2)
    before = _frames(twin, *size)
    goal = twin.home + np.array([35.0, 20.0, -15.0, -20.0, 60.0, 40.0])
    run_goals(twin, [goal] * 30)
    after = _frames(twin, *size)
    for cam in before:
        assert before[cam].std() > 10  # a scene, not a constant fill
        changed = np.abs(before[cam].astype(int) - after[cam].astype(int)).max(axis=2) > 30
        assert changed.mean() > 0.01, f"{cam}: the frame did not follow the arm"


def test_the_red_cube_is_visible_from_the_front(render_twin):
    twin = render_twin
    twin.reset(seed=3)
    bgr = _frames(twin, 96, 128)["front"].astype(int)
    red = (bgr[..., 2] > 150) & (bgr[..., 1] < 80) & (bgr[..., 0] < 80)
    assert red.sum() >= 6  # a 3 cm cube is a few pixels wide at 96x128


def test_rgb_is_bgr_reversed(render_twin):
    bgr = np.empty((48, 64, 3), dtype=np.uint8)
    rgb = np.empty_like(bgr)
    render_twin.render("front", bgr)
    render_twin.render("front", rgb, rgb=True)
    assert np.array_equal(rgb, bgr[..., ::-1])


def test_bad_frames_are_refused(render_twin):
    with pytest.raises(RenderError, match="max_height"):
        render_twin.render("front", np.empty((481, 640, 3), dtype=np.uint8))
    with pytest.raises(RenderError, match="uint8"):
        render_twin.render("front", np.empty((48, 64, 3), dtype=np.float32))
    with pytest.raises(RenderError, match="contiguous"):
        render_twin.render("front", np.empty((48, 128, 3), dtype=np.uint8)[:, ::2])
    with pytest.raises(Exception, match="unknown camera"):
        render_twin.render("top", np.empty((48, 64, 3), dtype=np.uint8))


def test_no_gl_library_names_the_package(monkeypatch):
    from act_tool.sim import render

    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(render.ctypes.util, "find_library", lambda name: None)
    with pytest.raises(RenderError, match="libegl1.*libosmesa6"):
        render.gl_platform()


@pytest.mark.skipif(
    __import__("ctypes.util").util.find_library("OSMesa") is not None, reason="OSMesa is installed"
)
def test_missing_osmesa_names_the_package():
    import os
    import subprocess
    import sys

    code = "from act_tool.sim.twin import Twin\nTwin()\n"
    env = {**os.environ, "MUJOCO_GL": "osmesa"}
    env.pop("PYOPENGL_PLATFORM", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "RenderError" in done.stderr and "libosmesa6" in done.stderr
