"""The policy's frames reach the recorder and the live view without a copy on the control thread:
their threads copy them later; where the loop's next query tick overtook the copy, each camera's
newest frame is taken instead, and counted (a torn frame is never recorded)."""

from __future__ import annotations

import threading

import numpy as np

from act_tool.eval.recording import DatasetRecorder
from act_tool.runtime.frame_feed import FrameFeed
from act_tool.runtime.observers import TickView, copy_seen_frames
from act_tool.testing.fakes import FakeCameras, FakeRunner
from act_tool.testing.specs import make_spec

SPEC = make_spec()  # one camera, front, 4 x 6


class ListSink:
    def __init__(self, root, spec, fps, resume) -> None:
        self.frames: list[dict] = []
        self.episodes: list[list[dict]] = []

    def add_frame(self, frame) -> None:
        self.frames.append(frame)

    def save_episode(self) -> None:
        self.episodes.append(self.frames)
        self.frames = []

    def discard_episode(self) -> None:
        self.frames = []

    def close(self) -> None:
        pass


class Generations:
    """The loop's read counter; `hold` makes the next reader of it wait until `release`."""

    def __init__(self) -> None:
        self.value = 0
        self.held = threading.Event()
        self.go = threading.Event()
        self.go.set()

    def hold(self) -> None:
        self.go.clear()

    def current(self) -> int:
        if not self.go.is_set():
            self.held.set()
            self.go.wait(10.0)
        return self.value


def view(tick: int, frames, gens: Generations, cameras) -> TickView:
    state = np.full(6, tick, np.float32)
    return TickView(tick, True, state, state + 1, frames, None, np.zeros(0), cameras, gens.value,
                    gens.current)  # fmt: skip


def test_copy_seen_frames_whole_or_refused():
    gens = Generations()
    src = {"front": np.full((1, 4, 6, 3), 7, np.uint8)}
    out = {"front": np.zeros((1, 4, 6, 3), np.uint8)}
    assert copy_seen_frames(src, ("front",), out, 0, gens.current)
    assert (out["front"] == 7).all()
    gens.value = 1  # the loop read again after the tick: the frames may have changed
    assert not copy_seen_frames(src, ("front",), out, 0, gens.current)
    during = iter((0, 1))  # the loop's read started while the copy ran: it may be torn
    assert not copy_seen_frames(src, ("front",), out, 0, lambda: next(during))


def test_the_feed_counts_its_reads():
    runner = FakeRunner(SPEC)
    with runner:
        feed = FrameFeed(runner, FakeCameras())
        before = feed.generation
        feed.read()
        feed.read()
        assert feed.generation == feed.current_generation() == before + 2


def test_recorder_copies_off_the_control_thread_and_substitutes_an_overtaken_frame(tmp_path):
    sinks: list[ListSink] = []

    def factory(*args):
        sinks.append(ListSink(*args))
        return sinks[-1]

    said: list[str] = []
    recorder = DatasetRecorder(tmp_path / "d", "task", log=said.append, sink_factory=factory)
    cameras, gens = FakeCameras(), Generations()
    frame = np.full((1, 4, 6, 3), 5, np.uint8)
    try:
        recorder.begin(SPEC, 30.0, cameras)
        gens.hold()
        recorder.on_tick(view(0, {"front": frame}, gens, cameras))
        assert gens.held.wait(10.0)  # the grabber is at the frame, not yet copying
        frame[...] = 99  # the loop's next query tick rewrites it...
        gens.value += 1  # ...and says so first
        gens.go.set()
        recorder.on_tick(view(1, {"front": frame}, gens, cameras))  # this one stays whole
        recorder.save_episode()
    finally:
        recorder.close()
    (episode,) = sinks[0].episodes
    assert len(episode) == 2 and recorder.saved == [2] and recorder.dropped == 0
    assert recorder.substituted == 1
    first, second = (f["observation.images.front"] for f in episode)
    # tick 0: the camera's newest (FakeCameras' B, G, R = 10, 20, 30, stored as RGB), never a
    # torn copy of the rewritten frame; tick 1: the frame the policy saw
    assert (first == np.array([30, 20, 10], np.uint8)).all() and (second == 99).all()
    np.testing.assert_array_equal(episode[1]["observation.state"], np.full(6, 1, np.float32))
    assert any("1 query ticks recorded with each camera's newest" in line for line in said)


def test_the_feed_moves_on_when_the_run_ends():
    """A copy still pending from a finished run is not taken for whole (the next run's feed
    counts afresh, and the cameras reuse the buffers)."""
    runner = FakeRunner(SPEC)
    with runner:
        feed = FrameFeed(runner, FakeCameras())
        feed.read()
        seen = feed.generation
        feed.release()
        assert feed.current_generation() != seen
