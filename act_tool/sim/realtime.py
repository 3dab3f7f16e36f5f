"""The twin on the wall clock (`run --port sim`, `emulate --sim`): a thread advances the physics
to the present every `step_s` and renders the cameras that asked for frames at their rate. Time
starts to flow when a client first turns a servo's torque on (a cell whose arm is not connected
yet holds its start pose instead of sagging while the cameras start). The
renders happen on that thread only (an OpenGL context is current in one thread), into two
buffers per camera; camera threads copy the newest (act_tool.sim.cameras.SimFrameReader).
`relayout` starts a new episode (a session of episodes judged by the twin, act_tool.sim.judge):
the cell of another seed, the arm at home with torque off, time held until torque goes on
again; a task monitor given to it is fed a snapshot every `monitor_s` of twin time.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from act_tool.sim.bus import TwinBus
from act_tool.sim.detectors import TaskMonitor
from act_tool.sim.errors import SimError
from act_tool.sim.layout import CellLayout


class _Feed:
    """One camera's renders: the newest complete frame and the one being drawn."""

    def __init__(self, camera: str, height: int, width: int) -> None:
        self.camera = camera
        self.frames = [np.zeros((height, width, 3), np.uint8) for _ in range(2)]
        self.newest = -1  # index of the newest complete frame; -1: none yet


class RealtimeTwin:
    def __init__(
        self,
        bus: TwinBus,
        camera_fps: float = 30.0,
        step_s: float = 0.002,
        monitor_s: float = 1.0 / 30.0,
    ) -> None:
        self.bus, self.camera_fps, self.step_s, self.monitor_s = bus, camera_fps, step_s, monitor_s
        self._layouts = 0  # relayouts so far: the thread holds time after each
        self._monitor: TaskMonitor | None = None
        self._feeds: list[_Feed] = []
        self._lock = threading.Lock()  # the feeds' buffer indices
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None

    def add_camera(self, camera: str, height: int, width: int) -> int:
        """A feed rendered at `camera_fps`; its first frame is drawn before this returns."""
        feed = _Feed(camera, height, width)
        with self._lock:
            self._feeds.append(feed)
        deadline = time.perf_counter() + 10.0
        while feed.newest < 0:
            if self.failure is not None or time.perf_counter() > deadline:
                raise SimError(f"the twin renders no frames ({self.failure!r})")
            time.sleep(0.002)
        return len(self._feeds) - 1

    def copy_frame(self, slot: int, out: np.ndarray) -> bool:
        """The newest frame of feed `slot` into `out`; False once the twin has stopped."""
        if self.failure is not None or self._thread is None:
            return False
        feed = self._feeds[slot]
        with self._lock:
            np.copyto(out, feed.frames[feed.newest])
        return True

    def relayout(self, seed: int, monitor: TaskMonitor | None = None) -> CellLayout:
        """The cell of `seed`, the arm at home with every servo as at power-on (torque off),
        time held until a client turns torque on; `monitor` watches from here on."""
        with self.bus.lock:
            layout = self.bus.twin.reset(seed=seed)
            self.bus.power_on()
            self._monitor = monitor
            self._layouts += 1
        return layout

    def start(self) -> RealtimeTwin:
        self._thread = threading.Thread(target=self._run, name="twin-realtime", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def __enter__(self) -> RealtimeTwin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        try:
            last = time.perf_counter()
            next_frame = last
            flowing, layouts = False, self._layouts
            watched: float | None = None
            while not self._stop.wait(self.step_s):
                now = time.perf_counter()
                with self.bus.lock:  # a relayout between the check and the step: not stepped
                    if layouts != self._layouts:  # a new episode: hold until torque goes on
                        flowing, layouts, watched = False, self._layouts, None
                    flowing = flowing or any(self.bus.twin.torque())
                    self.bus.advance(now - last if flowing else 0.0)
                last = now
                watched = self._watch(watched)
                if now >= next_frame or any(f.newest < 0 for f in self._feeds):
                    next_frame = max(next_frame + 1.0 / self.camera_fps, now)
                    self._render()
        except BaseException as e:  # camera threads see no new frames; the loop's checks stop
            self.failure = e
        finally:
            self.bus.twin.close()  # the OpenGL context belongs to this thread

    def _watch(self, watched: float | None) -> float | None:
        """Feed the monitor once per `monitor_s` of twin time; returns when it was last fed."""
        with self.bus.lock:  # relayout swaps the monitor under this lock
            monitor = self._monitor
            if monitor is None:
                return watched
            twin = self.bus.twin
            if watched is not None and twin.time - watched < self.monitor_s:
                return watched
            monitor.update(twin.cell_state())
            return twin.time

    def _render(self) -> None:
        with self._lock:
            feeds = list(self._feeds)
        for feed in feeds:
            back = 1 - max(feed.newest, 0) if feed.newest >= 0 else 0
            with self.bus.lock:
                self.bus.twin.render(feed.camera, feed.frames[back])
            with self._lock:
                feed.newest = back
