"""--display-save: the live view's stream written to an .rrd file that rerun reads back (cameras,
joints, goals, the chunk, stage latencies); a viewer that falls behind drops the oldest."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.errors import ActToolError

rr = pytest.importorskip("rerun", reason="the `display` extra (rerun-sdk) is not installed")


def entities(path) -> set[str]:
    with warnings.catch_warnings():  # load_recording is deprecated since 0.32, still there
        warnings.simplefilter("ignore", DeprecationWarning)
        recording = rr.recording.load_recording(path)
    return {c.entity_path for c in recording.schema().component_columns()}


def test_display_save_writes_an_rrd_that_rerun_reads(tiny_onnx, tmp_path):
    rrd = tmp_path / "run.rrd"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--engine",
            str(tiny_onnx),
            "--port",
            "emulated",
            "--duration",
            "0.5",
            "--force",
            "--display-save",
            str(rrd),
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    found = entities(rrd)
    assert {"/state/shoulder_pan", "/goal/gripper", "/chunk/elbow_flex",
            "/latency_ms/inference", "/latency_ms/write"} <= found  # fmt: skip
    assert any(e.startswith("/cameras/") for e in found)


def test_a_full_queue_drops_the_oldest(tmp_path):
    """A display whose thread has not started: the queue fills and the oldest entries go."""
    from act_tool.eval.display import RerunDisplay
    from act_tool.runtime.observers import TickView

    display = RerunDisplay(tmp_path / "x.rrd", log=lambda _m: None, queue_size=3)
    view = TickView(0, False, np.zeros(6, np.float32), np.zeros(6, np.float32), None, None,
                    np.zeros(30), None)  # fmt: skip
    display._image_every = 1000  # no camera reads (no cameras here)
    for tick in range(5):
        view.tick = tick + 1
        display.on_tick(view)
    assert display.dropped == 2
    assert [e[0] for e in list(display._queue.queue)] == [3, 4, 5]  # the newest three
    with pytest.raises(ActToolError, match=r"\.rrd"):
        RerunDisplay(tmp_path / "x.txt")


def test_images_come_from_the_policy_frames_else_the_cameras_newest(tmp_path):
    """The display's thread copies the policy's frames if the loop has not rewritten them yet,
    else shows each camera's newest; cameras that have stopped give no image, and no crash."""
    from act_tool.eval.display import RerunDisplay
    from act_tool.testing.fakes import FakeCameras

    display = RerunDisplay(tmp_path / "x.rrd", log=lambda _m: None)
    display._names, display._shapes = ("front",), {"front": (4, 6, 3)}
    cameras = FakeCameras()
    seen = {"front": np.full((1, 4, 6, 3), 7, np.uint8)}
    whole = display._images((seen, 3, lambda: 3, cameras))
    assert (whole["front"] == 7).all() and display.images_overtaken == 0
    newer = display._images((seen, 3, lambda: 4, cameras))  # the next query came first
    assert (newer["front"] == cameras.bgr[0]).all() and display.images_overtaken == 1
    cameras.read_into = lambda out: (_ for _ in ()).throw(RuntimeError("camera closed"))
    assert display._images(cameras) is None and display.images_missed == 1
