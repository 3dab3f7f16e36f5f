"""Camera.acquire: the newest frame's buffer itself, never one the capture thread is writing,
held until the next acquire; its errors; no allocation. A source whose frames encode their index
row by row makes a torn or rewritten frame visible."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from act_tool.hw.camera_sources import (
    SourceKind,
    register_source_kind,
    unregister_source_kind,
)
from act_tool.hw.cameras import (
    Camera,
    CameraConfig,
    CameraError,
    CameraSet,
    CameraSource,
    parse_camera_args,
)

from .test_cameras import SMALL, _wait_until


class _CounterReader:
    """Frame i: row r is (i + r) % 256 everywhere. Written a row at a time, giving the GIL away
    between rows, so a consumer that read a buffer being written would see two frames' rows.
    Clearing `gate` stalls it inside its next read (`waiting` tells when)."""

    def __init__(self, name: str, source: CameraSource, config: CameraConfig, context) -> None:
        self.fps: float | None = config.fps
        self.index = 0
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = False

    def read_into(self, buf: np.ndarray) -> bool:
        if not self.gate.is_set():
            self.waiting = True
            self.gate.wait(10.0)
            self.waiting = False
        for r in range(buf.shape[0]):
            buf[r] = (self.index + r) % 256
            time.sleep(0)
        self.index += 1
        return True

    def close(self) -> None:
        self.gate.set()


def _counter(frame: np.ndarray) -> int:
    """The frame's counter (mod 256); fails on a torn frame (rows from different frames)."""
    rows = frame.shape[1]
    first = int(frame[0, 0, 0, 0])
    expected = (first + np.arange(rows)) % 256
    assert np.array_equal(frame[0], np.broadcast_to(expected[:, None, None], frame.shape[1:])), (
        "torn frame: rows of different frames"
    )
    return first


@pytest.fixture
def counter_source() -> Iterator[str]:
    """`counter`: a source kind whose frames encode their index, registered as a new kind is."""
    register_source_kind(
        SourceKind(
            "counter", "counter", lambda t: t == "counter", lambda t, _: CameraSource("counter"),
            _CounterReader,
        )
    )  # fmt: skip
    try:
        yield "counter"
    finally:
        unregister_source_kind("counter")


@pytest.fixture
def counter_camera(counter_source: str) -> Iterator[tuple[Camera, _CounterReader]]:
    """A camera at 1000 fps whose frames encode their index (no rate check: a loaded machine
    may not keep up, and this is about buffers, not rates). Stopped whatever happens."""
    config = CameraConfig(width=64, height=48, fps=1000.0, max_age_s=5.0, rate_check_frames=0)
    source = parse_camera_args(f"front={counter_source}")["front"]
    cam = Camera("front", source, config).start()
    reader = cam._reader
    try:
        assert isinstance(reader, _CounterReader)
        yield cam, reader
    finally:
        reader.gate.set()  # never leave the capture thread stalled
        cam.stop()
    assert not cam.running


def _stall(cam: Camera, reader: _CounterReader) -> int:
    """Stall the capture thread; return the index of the last frame it published."""
    reader.gate.clear()
    _wait_until(lambda: reader.waiting)
    return reader.index - 1


def test_acquire_is_never_a_buffer_being_written(counter_camera) -> None:
    """Held while the camera publishes 3 more frames (every other buffer rewritten), the
    acquired frame is whole and unchanged; successive acquires never go back in time."""
    cam, _ = counter_camera
    previous, seen = -1, set()
    for _ in range(40):
        frame, age = cam.acquire()
        assert frame.shape == (1, 48, 64, 3) and frame.dtype == np.uint8 and age >= 0
        count = _counter(frame)
        copy = frame.copy()
        published = cam.frames_captured
        _wait_until(lambda n=published + 3: cam.frames_captured >= n)
        np.testing.assert_array_equal(frame, copy, "the capture thread wrote a held buffer")
        seen.add(count)
        # counters wrap at 256; the camera publishes well under 256 frames per iteration here
        assert previous < 0 or (count - previous) % 256 < 128
        previous = count
    assert len(seen) > 20, "the frames moved on between acquires"


def test_acquire_returns_the_newest_frame_and_keeps_it_until_the_next(counter_camera) -> None:
    cam, reader = counter_camera
    last = _stall(cam, reader)
    frame, _ = cam.acquire()
    assert _counter(frame) == last % 256
    again, _ = cam.acquire()  # no frame since: the same buffer, still held
    assert again is frame
    out = np.zeros((48, 64, 3), np.uint8)
    cam.latest(out)  # latest copies the newest frame (the held one) and changes no ownership
    np.testing.assert_array_equal(out, frame[0])
    reader.gate.set()
    seen = cam.frames_captured
    _wait_until(lambda: cam.frames_captured >= seen + 5)
    last = _stall(cam, reader)
    np.testing.assert_array_equal(out, frame[0], "latest() must not hand the held buffer back")
    cam.latest(out)
    assert _counter(out[None]) == last % 256
    newer, _ = cam.acquire()
    assert newer is not frame and _counter(newer) == last % 256


def test_acquire_refuses_stale_dead_and_stopped_cameras(counter_camera) -> None:
    cam, reader = counter_camera
    _stall(cam, reader)
    time.sleep(0.05)
    with pytest.raises(CameraError, match=r"ms old, over the 10 ms limit"):
        cam.acquire(max_age_s=0.01)
    frame, age = cam.acquire(max_age_s=60.0)
    assert age >= 0.05
    reader.gate.set()
    cam._reader.read_into = lambda buf: False  # type: ignore[union-attr, method-assign]
    _wait_until(lambda: not cam.running, timeout=15.0)
    with pytest.raises(CameraError, match="stopped delivering frames"):
        cam.acquire()
    stopped = Camera("side", CameraSource("synthetic"), SMALL)
    with pytest.raises(CameraError, match="not started"):
        stopped.acquire()


def test_acquire_allocates_nothing(counter_camera) -> None:
    import tracemalloc

    cam, reader = counter_camera
    _stall(cam, reader)  # the capture thread idle: only acquire() is measured
    cam.acquire()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(1000):
            cam.acquire()
        now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert now - start < 256 and peak - start < 512, (now - start, peak - start)


def test_camera_set_acquire() -> None:
    sources = parse_camera_args("front=synthetic,handeye=synthetic")
    with CameraSet(sources, SMALL) as cams:
        front, age = cams.acquire("front")
        handeye, _ = cams.acquire("handeye")
        assert front.shape == (1, 48, 64, 3) and 0 <= age < SMALL.max_age_s
        assert front.any() and not np.array_equal(front, handeye)  # different seeds
        with pytest.raises(KeyError):
            cams.acquire("side")
