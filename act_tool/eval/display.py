"""`--display`: the run streamed live to rerun (LeRobot's `--display_data` viewer), or to an .rrd
file with `--display-save FILE.rrd`.

A tick observer (act_tool.runtime.observers): per tick it copies the joints read, the goals
written, a newly arrived chunk and the tick's telemetry marks into a bounded queue, with where
to find camera frames (those the policy saw on its query ticks, else each camera's newest a few
times a second); a thread of its own copies the frames and logs it all to rerun. When the queue is full the oldest entry is
dropped and counted: the control tick never waits for the viewer.

Entities: cameras/<name> (image), state/<joint> and goal/<joint> (scalars), chunk/<joint> (the
predicted chunk, a bar chart per joint), latency_ms/<stage> (act_tool.runtime.telemetry's
stages); timelines "tick" (over the session) and "episode".
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.errors import ActToolError
from act_tool.runtime.interfaces import Cameras
from act_tool.runtime.observers import TickView, copy_seen_frames
from act_tool.runtime.telemetry import MARK0, STAGES, derive
from act_tool.spec import EngineSpec

Log = Callable[[str], None]
IMAGE_HZ = 10.0  # camera images between query ticks, per second


def _rerun() -> Any:
    try:
        import rerun
    except ImportError as e:
        raise ActToolError(
            f"--display streams to rerun, which is not installed ({e}): install the `display` "
            "extra (pip install 'act-tool[display]')"
        ) from e
    return rerun


class RerunDisplay:
    """The live view; see the module docstring. `save`: an .rrd file instead of a viewer."""

    def __init__(self, save: Path | None = None, log: Log = print, queue_size: int = 64) -> None:
        self.rr = _rerun()
        if save is not None and save.suffix != ".rrd":
            raise ActToolError(f"--display-save writes an .rrd file, got {save}")
        if save is not None and not save.parent.is_dir():
            raise ActToolError(f"--display-save: the folder {save.parent} does not exist")
        self.save, self.log = save, log
        self.dropped = 0  # entries dropped because the viewer's thread fell behind
        self.shown = 0
        self.images_overtaken = 0  # policy frames rewritten first: the cameras' newest shown
        self.images_missed = 0  # images the cameras could no longer give (after the run)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._stream: Any = None
        self._episode = -1
        self._image_every = 1
        self._names: tuple[str, ...] = ()
        self._joints: tuple[str, ...] = ()
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._ticks = 0  # over the session

    def begin(self, spec: EngineSpec, fps: float, cameras: Cameras) -> None:
        if self._thread is None:
            rr = self.rr
            self._stream = rr.RecordingStream("act-tool")
            if self.save is not None:
                self._stream.save(self.save)
            else:
                self._stream.spawn()
            self._names = tuple(c.name for c in spec.cameras)
            self._joints = tuple(n.removesuffix(".pos") for n in spec.action_names)
            self._shapes = {n: tuple(c.config.shape) for n, c in cameras.cameras.items()}
            self._image_every = max(1, round(fps / IMAGE_HZ))
            self._thread = threading.Thread(target=self._show, name="display", daemon=True)
            self._thread.start()
        self._episode += 1

    def on_tick(self, view: TickView) -> None:
        self._ticks += 1
        frames: Any = None
        if view.frames is not None:  # copied on the display's thread, if still whole then
            frames = (view.frames, view.generation, view.current_generation, view.cameras)
        elif view.tick % self._image_every == 0:
            frames = view.cameras  # each camera's newest, read on the display's thread
        chunk = None if view.chunk is None else view.chunk.copy()
        entry = (self._ticks, self._episode, view.state.copy(), view.goal.copy(), chunk,
                 view.marks.copy(), frames)  # fmt: skip
        q = self._queue
        while True:
            try:
                q.put_nowait(entry)
                return
            except queue.Full:
                try:
                    q.get_nowait()  # the oldest goes: a live view wants the newest
                    self.dropped += 1
                except queue.Empty:
                    pass

    def end(self, stop_reason: str) -> None:
        pass

    def close(self) -> None:
        """Flush what is queued and close the stream (the .rrd file is complete after this)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30.0)
            self._thread = None
            self._stream.flush()
            self._stream.disconnect()
        if self.dropped:
            self.log(f"display: {self.dropped} ticks not shown (the viewer's thread fell behind)")
        if self.images_overtaken:
            self.log(
                f"display: {self.images_overtaken} query ticks shown with each camera's newest "
                "frame, not the policy's (the loop's next query came before the viewer's copy)"
            )

    def _images(self, source: Any) -> dict[str, np.ndarray] | None:
        """The images of an entry: the frames the policy saw, else (not given, or rewritten by
        the loop's next query before this thread got to them) each camera's newest; None when
        the cameras cannot give one (they stop when the run ends)."""
        out = {n: np.empty((1, *s), np.uint8) for n, s in self._shapes.items()}
        if isinstance(source, tuple):
            frames, generation, current, source = source
            if copy_seen_frames(frames, self._names, out, generation, current):
                return {n: out[n][0] for n in self._names}
            self.images_overtaken += 1
        try:
            source.read_into(out)
        except Exception:  # a camera closed or gone: the loop reports its own failures
            self.images_missed += 1
            return None
        return {n: out[n][0] for n in self._names}

    def _show(self) -> None:
        rr, stream = self.rr, self._stream
        with contextlib.suppress(OSError, AttributeError):  # Linux: per-thread niceness
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while (entry := self._queue.get()) is not None:
            tick, episode, state, goal, chunk, marks, frames = entry
            stream.set_time("tick", sequence=tick)
            stream.set_time("episode", sequence=episode)
            for j, joint in enumerate(self._joints):
                stream.log(f"state/{joint}", rr.Scalars(float(state[j])))
                stream.log(f"goal/{joint}", rr.Scalars(float(goal[j])))
                if chunk is not None:
                    stream.log(f"chunk/{joint}", rr.BarChart(chunk[:, j]))
            stages = derive(marks[None], marks[MARK0], marks[MARK0])[0, -len(STAGES) :]
            for name, seconds in zip(STAGES, stages, strict=True):
                if name != "slack":  # not known yet when the tick is shown
                    stream.log(f"latency_ms/{name}", rr.Scalars(float(seconds) * 1e3))
            if frames is not None:
                frames = self._images(frames)
            for name, bgr in (frames or {}).items():
                stream.log(f"cameras/{name}", rr.Image(bgr[..., ::-1], color_model="RGB"))
            self.shown += 1
