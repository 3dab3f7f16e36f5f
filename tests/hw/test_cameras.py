"""Tests for act_tool.hw.cameras: synthetic and video-file sources, errors, staleness.

No wall-clock speed asserts: waits are generous polls, and every camera is stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from act_tool.errors import ActToolError
from act_tool.hw.cameras import (
    Camera,
    CameraConfig,
    CameraError,
    CameraSet,
    CameraSource,
    parse_camera_args,
)

SMALL = CameraConfig(width=64, height=48, fps=50.0, max_age_s=5.0)


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.fixture
def cameras() -> Iterator[list[Camera]]:
    """Cameras a test starts; stopped whatever happens."""
    started: list[Camera] = []
    yield started
    for cam in started:
        cam.stop()
    assert not any(cam.running for cam in started)


def _start(cameras: list[Camera], source: CameraSource, config: CameraConfig) -> Camera:
    cam = Camera("front", source, config)
    cameras.append(cam)
    return cam.start()


def _write_video(path: Path, fps: float) -> Path:
    """A 10-frame 64x48 MJPG .avi at `fps`; frame i is a flat gray of 20*i + 10."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    assert writer.isOpened()
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i + 10, np.uint8))
    writer.release()
    return path


@pytest.fixture
def video(tmp_path: Path) -> Path:
    """A 10-frame 64x48 .avi at 25 fps (played back at its own rate)."""
    return _write_video(tmp_path / "clip.avi", 25.0)


# --- parsing ------------------------------------------------------------------------------------


def test_parse_camera_args_kinds_and_order() -> None:
    cams = parse_camera_args("front=0, handeye=/dev/video2,side=synthetic,top=clip.avi")
    assert list(cams) == ["front", "handeye", "side", "top"]
    assert cams["front"] == CameraSource("device", "0")
    assert cams["handeye"] == CameraSource("device", "/dev/video2")
    assert cams["side"] == CameraSource("synthetic", "", seed=2)
    assert cams["top"] == CameraSource("file", "clip.avi")


def test_parse_synthetic_seeds() -> None:
    cams = parse_camera_args("a=synthetic,b=synthetic,c=synthetic:7")
    assert [c.seed for c in cams.values()] == [0, 1, 7]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "expected NAME=SOURCE"),
        ("front=0,", "expected NAME=SOURCE"),
        ("front", "expected NAME=SOURCE, e.g. front=0"),
        ("=0", "Bad camera name ''"),
        ("front cam=0", "Bad camera name 'front cam'"),
        ("0front=0", "Bad camera name"),
        ("front=0,front=1", "named twice"),
        ("front=", "Camera 'front': Empty camera source: a source is INDEX or /dev/videoN"),
        ("front=synthetic:x", "Bad synthetic seed"),
    ],
)
def test_parse_camera_args_errors(text: str, match: str) -> None:
    with pytest.raises(CameraError, match=match):
        parse_camera_args(text)


def test_camera_error_is_an_act_tool_error() -> None:
    assert issubclass(CameraError, ActToolError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"width": 0},
        {"fps": 0},
        {"max_age_s": -1},
        {"fourcc": "MJPEG"},
        {"rate_check_frames": -1},
        {"min_fps_ratio": 0},
        {"min_fps_ratio": 1.5},
    ],
)
def test_config_validation(kwargs: dict) -> None:
    with pytest.raises(CameraError):
        CameraConfig(**kwargs)


# --- synthetic ----------------------------------------------------------------------------------


def test_synthetic_size_motion_and_age(cameras: list[Camera]) -> None:
    cam = _start(cameras, CameraSource("synthetic", seed=3), SMALL)
    out = np.empty((48, 64, 3), np.uint8)
    frame, age = cam.latest(out)
    assert frame is out and frame.dtype == np.uint8 and frame.shape == (48, 64, 3)
    assert 0 <= age < SMALL.max_age_s
    first = frame.copy()
    seen = cam.frames_captured
    _wait_until(lambda: cam.frames_captured >= seen + 3)
    second, _ = cam.latest(out)
    assert not np.array_equal(first, second)  # the shapes move
    assert second.std() > 5  # not a flat image


def test_synthetic_is_deterministic_per_seed(cameras: list[Camera]) -> None:
    from act_tool.hw.camera_readers import SyntheticReader

    def frames(seed: int) -> list[np.ndarray]:
        reader = SyntheticReader(seed, SMALL)
        bufs = [np.empty(SMALL.shape, np.uint8) for _ in range(3)]
        for b in bufs:
            reader.read_into(b)
        return bufs

    a, b, c = frames(1), frames(1), frames(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_latest_into_batched_buffer_and_bad_buffer(cameras: list[Camera]) -> None:
    cam = _start(cameras, CameraSource("synthetic"), SMALL)
    batched = np.zeros((1, 48, 64, 3), np.uint8)
    frame, _ = cam.latest(batched)
    assert frame is batched and batched.any()
    with pytest.raises(CameraError, match=r"uint8\[48, 64, 3\]"):
        cam.latest(np.zeros((48, 64, 3), np.float32))
    with pytest.raises(CameraError, match="output buffer"):
        cam.latest(np.zeros((64, 48, 3), np.uint8))


def test_stale_frame_raises(cameras: list[Camera]) -> None:
    config = CameraConfig(width=64, height=48, fps=50.0, max_age_s=0.2)
    cam = _start(cameras, CameraSource("synthetic"), config)
    cam.latest()  # fresh
    release = threading.Event()

    def stalled(buf: np.ndarray) -> bool:  # the camera hangs inside its read
        release.wait(10.0)
        return False

    cam._reader.read_into = stalled  # type: ignore[union-attr, method-assign]
    try:
        with pytest.raises(CameraError, match=r"ms old, over the 200 ms limit"):
            _wait_until_raises(cam.latest)
        # a caller may accept older frames explicitly
        _, age = cam.latest(max_age_s=60.0)
        assert age > 0.2
    finally:
        release.set()


def _wait_until_raises(fn: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fn()
        time.sleep(0.02)


def test_dead_camera_raises(cameras: list[Camera]) -> None:
    cam = _start(cameras, CameraSource("synthetic"), SMALL)
    cam._reader.read_into = lambda buf: False  # type: ignore[union-attr, method-assign]
    _wait_until(lambda: not cam.running)
    with pytest.raises(CameraError, match="stopped delivering frames"):
        cam.latest()


def test_reader_exception_surfaces(cameras: list[Camera]) -> None:
    cam = _start(cameras, CameraSource("synthetic"), SMALL)

    def broken(buf: np.ndarray) -> bool:
        raise OSError("usb gone")

    cam._reader.read_into = broken  # type: ignore[union-attr, method-assign]
    _wait_until(lambda: not cam.running)
    with pytest.raises(CameraError, match="usb gone"):
        cam.latest()


def test_not_started_and_stopped(cameras: list[Camera]) -> None:
    cam = Camera("front", CameraSource("synthetic"), SMALL)
    with pytest.raises(CameraError, match="not started"):
        cam.latest()
    with cam:
        cam.latest()
        with pytest.raises(CameraError, match="already started"):
            cam.start()
    assert not cam.running
    with pytest.raises(CameraError, match="not started"):
        cam.latest()
    cam.stop()  # idempotent


# --- video files --------------------------------------------------------------------------------


def test_video_file_size_and_looping(cameras: list[Camera], video: Path) -> None:
    config = CameraConfig(width=64, height=48, fps=25.0, max_age_s=5.0)
    cam = _start(cameras, CameraSource("file", str(video)), config)
    assert cam._reader.fps == pytest.approx(25.0)  # type: ignore[union-attr]
    out = np.empty(config.shape, np.uint8)
    levels = []
    _wait_until(lambda: cam.frames_captured >= 25, timeout=30.0)  # 10 frames a loop
    for _ in range(200):
        frame, _ = cam.latest(out)
        assert frame.shape == (48, 64, 3)
        levels.append(int(np.median(frame)))
        if cam.frames_captured > 45:
            break
        time.sleep(0.01)
    assert cam.frames_captured > 10  # it went past the last frame: it loops
    assert min(levels) < 60 and max(levels) > 150  # early and late frames both seen


def test_slow_source_is_refused_naming_both_rates(cameras: list[Camera], tmp_path: Path) -> None:
    """A source that delivers 10 fps when 30 were asked for (a video file plays at its own
    rate, like a camera that cannot keep up) is refused on start, and released."""
    slow = _write_video(tmp_path / "slow.avi", 10.0)
    config = CameraConfig(width=64, height=48, fps=30.0)
    cam = Camera("front", CameraSource("file", str(slow)), config)
    cameras.append(cam)
    with pytest.raises(CameraError) as info:
        cam.start()
    text = str(info.value)
    assert "'front'" in text and "30 fps was requested" in text
    measured = float(text.split(" delivers ")[1].split(" fps")[0])
    assert measured < 0.8 * 30  # what it names is the slow rate it saw
    assert not cam.running and cam._reader is None  # stopped and released


def test_rate_at_the_requested_fps_is_accepted(cameras: list[Camera], video: Path) -> None:
    config = CameraConfig(width=64, height=48, fps=25.0, max_age_s=5.0)
    cam = _start(cameras, CameraSource("file", str(video)), config)
    assert cam.measured_fps is not None and cam.measured_fps >= 0.8 * 25.0


def test_rate_check_can_be_turned_off(cameras: list[Camera], tmp_path: Path) -> None:
    slow = _write_video(tmp_path / "slow.avi", 10.0)
    config = CameraConfig(width=64, height=48, fps=30.0, rate_check_frames=0, max_age_s=5.0)
    cam = _start(cameras, CameraSource("file", str(slow)), config)
    assert cam.measured_fps is None
    cam.latest()


def test_video_file_wrong_size_names_both(cameras: list[Camera], video: Path) -> None:
    config = CameraConfig(width=640, height=480)
    with pytest.raises(CameraError) as info:
        _start(cameras, CameraSource("file", str(video)), config)
    assert "64x48" in str(info.value) and "640x480" in str(info.value)


def test_missing_video_file(cameras: list[Camera], tmp_path: Path) -> None:
    source = parse_camera_args(f"front={tmp_path / 'nope.avi'}")["front"]
    with pytest.raises(CameraError, match="not found"):
        _start(cameras, source, SMALL)


def test_not_a_video_file(cameras: list[Camera], tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(CameraError, match="front"):
        _start(cameras, CameraSource("file", str(bad)), SMALL)


# --- devices ------------------------------------------------------------------------------------


def test_missing_device_index(cameras: list[Camera]) -> None:
    with pytest.raises(CameraError, match=r"'front'.*(/dev/video97|device 97)"):
        _start(cameras, parse_camera_args("front=97")["front"], SMALL)


def test_missing_device_path(cameras: list[Camera]) -> None:
    with pytest.raises(CameraError, match="/dev/video97"):
        _start(cameras, parse_camera_args("front=/dev/video97")["front"], SMALL)


# --- camera sets --------------------------------------------------------------------------------


def test_camera_set_reads_all(video: Path) -> None:
    sources = parse_camera_args(f"front=synthetic,handeye=synthetic,side={video}")
    side = CameraConfig(width=64, height=48, fps=25.0, max_age_s=5.0)  # the video's own rate
    with CameraSet(sources, {"front": SMALL, "handeye": SMALL, "side": side}) as cams:
        assert cams.names == ["front", "handeye", "side"]
        out = cams.allocate(batch=True)
        assert out["front"].shape == (1, 48, 64, 3)
        ages = cams.read_into(out)
        assert set(ages) == {"front", "handeye", "side"}
        assert all(0 <= a < SMALL.max_age_s for a in ages.values())
        assert not np.array_equal(out["front"], out["handeye"])  # different seeds
        frames = cams.latest()
        assert frames["side"][0].shape == (48, 64, 3)
        running = list(cams.cameras.values())
    assert not any(c.running for c in running)


def test_camera_set_per_camera_config() -> None:
    sources = parse_camera_args("front=synthetic,handeye=synthetic")
    configs = {"front": SMALL, "handeye": CameraConfig(width=32, height=24, fps=10)}
    with CameraSet(sources, configs) as cams:
        out = cams.allocate()
        assert out["handeye"].shape == (24, 32, 3)
        cams.read_into(out)
    with pytest.raises(CameraError, match="No camera config for 'handeye'"):
        CameraSet(sources, {"front": SMALL})


def test_camera_set_opens_all_or_none(video: Path) -> None:
    sources = parse_camera_args("front=synthetic,handeye=/dev/video97")
    cams = CameraSet(sources, SMALL)
    with pytest.raises(CameraError, match="handeye"), cams:
        pass
    assert not cams.cameras["front"].running  # the one that opened was closed again


def test_camera_set_needs_cameras() -> None:
    with pytest.raises(CameraError, match="No cameras"):
        CameraSet({})
