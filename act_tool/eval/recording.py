"""`--record DIR`: each episode of `eval` (or the run of `run`) saved as a LeRobot dataset.

Per tick the recorder (a tick observer, act_tool.runtime.observers) keeps the state read and the
goal written, and a grabber thread copies the frames the policy saw (on ticks where it saw none,
each camera's newest) into reused buffers, then hands everything to a writer thread through a
bounded queue; the control tick copies no frame and never waits. When the queue is full the
tick's frame is not kept: counted, reported per episode and in the end (never silently). When
the loop's next query tick rewrote the policy's frames before the grabber copied them, each
camera's newest frame is recorded instead (counted and reported too). The writer thread puts
the frames into a Sink: the LeRobot dataset of act_tool.eval.lerobot_sink (its layout, codecs,
staging and resume are described there).
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.eval.lerobot_sink import (  # noqa: F401  (CODECS, LeRobotSink: recording's API too)
    CODECS,
    DEFAULT_CODEC,
    LeRobotSink,
    RecordingError,
    Sink,
    SinkFactory,
    check_destination,
    encoder_config,
    require_lerobot,
)
from act_tool.runtime.interfaces import Cameras
from act_tool.runtime.observers import TickView, copy_seen_frames
from act_tool.spec import EngineSpec

Log = Callable[[str], None]
WRITER_NICE = 10  # the writer's (and its encoders') niceness
QUEUE_SECONDS = 1.0  # the queue holds this much of the control rate's frames


class DatasetRecorder:
    """The tick observer that records episodes (see the module docstring).

    recorder = DatasetRecorder(Path("data/evals"), "Put the cube in the bowl.")
    run_loop(..., observers=[recorder]); recorder.save_episode(); recorder.close()
    """

    def __init__(
        self,
        root: Path,
        task: str,
        resume: bool = False,
        log: Log = print,
        queue_size: int | None = None,
        sink_factory: SinkFactory | None = None,
        codec: str = DEFAULT_CODEC,
    ) -> None:
        if not task.strip():
            raise RecordingError("--task: say what the episodes do (stored with every frame)")
        if codec not in CODECS:
            raise RecordingError(f"--record-codec {codec}: choose one of {', '.join(CODECS)}")
        check_destination(root, resume)
        if sink_factory is None:
            require_lerobot()  # a missing LeRobot is a usage error now, not after the first episode
            encoder = encoder_config(root, resume, codec)  # an encoder missing here, too
            sink_factory = functools.partial(LeRobotSink, encoder=encoder)
        self.root, self.task, self.resume, self.log = root, task, resume, log
        self.queue_size, self.sink_factory = queue_size, sink_factory
        self.dropped = 0  # frames not kept over the session
        self.episode_dropped = 0
        self.episode_frames = 0  # frames queued in the current episode
        # query ticks whose frames the loop rewrote before the grabber copied them: recorded with
        # each camera's newest frame instead (at most a tick newer; the grabber's thread counts)
        self.substituted = 0
        self.saved: list[int] = []  # frames per saved episode
        self.error: BaseException | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._sink: Sink | None = None
        self._names: tuple[str, ...] = ()
        self._free: queue.SimpleQueue = queue.SimpleQueue()  # frame buffers not in use
        self._grab: queue.SimpleQueue = queue.SimpleQueue()  # to the grabber thread
        self._grabber: threading.Thread | None = None

    # --- tick observer (control thread) ---------------------------------------------------

    def begin(self, spec: EngineSpec, fps: float, cameras: Cameras) -> None:
        """Each episode's start; the first opens the sink and starts the writer thread."""
        if self._thread is None:
            self._sink = self.sink_factory(self.root, spec, fps, self.resume)
            size = self.queue_size or max(8, int(QUEUE_SECONDS * fps))
            self._queue = queue.Queue(maxsize=size)
            self._names = tuple(c.name for c in spec.cameras)
            shapes = {n: (1, *c.config.shape) for n, c in cameras.cameras.items()}
            # Frame buffers, reused: no allocation (and no page faults) on the control thread.
            self._free = queue.SimpleQueue()
            for _ in range(size + 1):
                buffers = {n: np.empty(shape, np.uint8) for n, shape in shapes.items()}
                for b in buffers.values():
                    b.fill(0)  # touch the pages now
                self._free.put(buffers)
            self._grabber = threading.Thread(target=self._copy, name="grabber", daemon=True)
            self._grabber.start()
            self._thread = threading.Thread(target=self._write, name="recorder", daemon=True)
            self._thread.start()
        self.episode_dropped = self.episode_frames = 0

    def on_tick(self, view: TickView) -> None:
        if self.error is not None:
            raise RecordingError(f"recording into {self.root} failed: {self.error}")
        q = self._queue
        assert q is not None
        try:
            buffers = self._free.get_nowait()  # none free: the writer holds them all
        except queue.Empty:
            self.dropped += 1
            self.episode_dropped += 1
            return
        # Both copied on the grabber thread (a few ms from now): the frames the policy saw (they
        # stay until the loop's next query tick; overtaken by it, each camera's newest instead,
        # counted), else each camera's newest.
        if view.frames is not None:
            source = (view.frames, view.generation, view.current_generation, view.cameras)
        else:
            source = view.cameras
        state, goal = view.state.astype(np.float32), view.goal.astype(np.float32)
        self._grab.put(("frame", (buffers, state, goal, source)))
        self.episode_frames += 1

    def end(self, stop_reason: str) -> None:
        pass

    # --- episodes (the session's thread, outside the loop) --------------------------------

    def save_episode(self) -> None:
        """Keep the episode: waits until it is on disk; raises RecordingError if it failed."""
        self._command("save")
        if self.episode_dropped:
            self.log(
                f"warning: recording fell behind: {self.episode_dropped} of "
                f"{self.episode_frames + self.episode_dropped} frames of this episode were not "
                "kept (the dataset's episode is shorter than the run)"
            )
        self.saved.append(self.episode_frames)
        self.log(
            f"recorded episode {len(self.saved)} ({self.episode_frames} frames) in {self.root}"
        )

    def discard_episode(self) -> None:
        self._command("discard")

    def close(self) -> None:
        """Stop the writer; an episode not saved is dropped, the saved ones stay readable."""
        if self._thread is not None:
            try:
                self._command("close")
            except RecordingError as e:
                self.log(f"warning: {e}")
            self._thread.join(timeout=60.0)
            self._thread = None
            if self._grabber is not None:
                self._grabber.join(timeout=5.0)
        if self.dropped:
            self.log(f"recording: {self.dropped} frames not kept over the session (writer behind)")
        if self.substituted:
            self.log(
                f"recording: {self.substituted} query ticks recorded with each camera's newest "
                "frame, not the policy's (the loop's next query came before the copy)"
            )

    def _command(self, what: str) -> None:
        if self._queue is None:
            return
        done = threading.Event()
        self._grab.put((what, done))  # in order with the frames before it
        while not done.wait(0.5):
            if self._thread is None or not self._thread.is_alive():
                break
        if self.error is not None:
            raise RecordingError(f"recording into {self.root} failed: {self.error}")

    # --- the grabber and writer threads --------------------------------------------------

    def _copy(self) -> None:
        """Plain ticks' frames: each camera's newest, copied off the control thread; then
        everything on to the writer, in order."""
        q = self._queue
        assert q is not None
        while True:
            what, payload = self._grab.get()
            if what == "frame":
                buffers, state, goal, source = payload
                if isinstance(source, tuple):
                    frames, generation, current, source = source
                    if copy_seen_frames(frames, self._names, buffers, generation, current):
                        source = None
                    else:  # the loop's next query came first: the cameras' newest instead
                        self.substituted += 1
                if source is not None:
                    try:
                        source.read_into(buffers)
                    except Exception as e:  # a camera that died: the loop says so too
                        self.error = self.error or e
                payload = (buffers, state, goal)
            q.put((what, payload))
            if what == "close":
                return

    def _write(self) -> None:
        q, sink = self._queue, self._sink
        assert q is not None and sink is not None
        # Linux: this thread, and the encoder threads it starts, yield to the control loop (and
        # on a small machine to the servo bus); nice values are per thread there.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICE)
        while True:
            what, payload = q.get()
            try:
                if self.error is None or what == "close":
                    self._apply(sink, what, payload)
            except Exception as e:  # disk full, encoder failure: reported to the loop
                self.error = self.error or e
                with contextlib.suppress(Exception):  # the sink may be what broke
                    sink.discard_episode()
            finally:
                if what == "frame":
                    self._free.put(payload[0])  # the buffers are free again
                else:
                    payload.set()
            if what == "close":
                return

    def _apply(self, sink: Sink, what: str, payload: Any) -> None:
        if what == "frame":
            buffers, state, goal = payload
            frame = {"task": self.task, "observation.state": state, "action": goal}
            for name in self._names:  # LeRobot's RGB, a copy of its own: the buffer goes back
                frame[f"observation.images.{name}"] = np.ascontiguousarray(
                    buffers[name][0, ..., ::-1]
                )
            sink.add_frame(frame)
        elif what == "save":
            sink.save_episode()
        elif what == "discard":
            sink.discard_episode()
        elif what == "close":
            sink.close()
