"""Cameras that always hold their newest frame, from any registered source kind (OpenCV devices,
looping video files, synthetic shapes, ...: act_tool.hw.camera_sources).

Each camera captures on a background thread into three preallocated (1,H,W,3) buffers, the
runner's input shape: the one being captured (back), the newest complete one (front), and one
held by the consumer. `latest()` copies the newest frame into the caller's buffer; `acquire()`
hands out the newest complete buffer itself, without a copy, and the capture thread leaves it
alone until the next `acquire()` (it swaps with the front buffer under the lock). Neither
allocates. Every frame carries its capture time (time.perf_counter); a frame older than the
configured limit, or a camera whose thread died, raises CameraError instead of handing the
policy an old picture. Frames are uint8 HWC in BGR order, as OpenCV delivers them.

Width and height are checked on every frame; the rate on start: the driver's reported fps, and
the measured interval over the first frames (a camera that delivers well under the requested
rate, e.g. a USB camera lowering its rate in dim light, is refused with both rates named).

    with CameraSet(parse_camera_args("front=0,handeye=synthetic"), CameraConfig()) as cams:
        buffers = cams.allocate()
        ages = cams.read_into(buffers)   # {"front": 0.012, "handeye": 0.004}
        frame, age = cams.acquire("front")  # (1,H,W,3), no copy; kept until the next acquire
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

import numpy as np

from act_tool.hw.camera_sources import (
    CameraConfig,
    CameraError,
    CameraSource,
    FrameReader,
    open_reader,
    parse_camera_args,
)

__all__ = [
    "Camera",
    "CameraConfig",
    "CameraError",
    "CameraSet",
    "CameraSource",
    "parse_camera_args",
]

RATE_CHECK_SKIP = 2  # frames a camera may take to settle before its rate is measured


# --- one camera ---------------------------------------------------------------------------------


class Camera:
    """One camera whose background thread keeps only the newest frame and its capture time."""

    def __init__(
        self,
        name: str,
        source: CameraSource,
        config: CameraConfig,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.name, self.source, self.config = name, source, config
        self._context = context or {}  # what the session shares with sources (open_reader)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader: FrameReader | None = None
        # Three (1,H,W,3) buffers and their [0] views, made once; the roles are indices into
        # them: back (being captured), front (newest complete frame), held (the consumer's).
        self._buffers = tuple(np.zeros((1, *config.shape), np.uint8) for _ in range(3))
        self._views = tuple(b[0] for b in self._buffers)
        self._back, self._front, self._held = 0, 1, 2
        self._fresh = False  # a frame was published since the last acquire() (it is in front)
        self._stamp = 0.0
        self._frames = 0
        self._failure: str | None = None
        # capture times of the first frames, for the rate measured on start
        self._first_stamps = np.zeros(RATE_CHECK_SKIP + config.rate_check_frames + 1)
        self.measured_fps: float | None = None  # what start() measured

    @property
    def frames_captured(self) -> int:
        return self._frames

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Camera:
        """Open the source, check its first frame, and start capturing. Raises CameraError."""
        if self._thread is not None:
            raise CameraError(f"Camera {self.name!r} is already started.")
        self._reader = open_reader(self.name, self.source, self.config, self._context)
        deadline = time.perf_counter() + self.config.open_timeout_s
        try:
            while not self._reader.read_into(self._views[self._back]):
                if time.perf_counter() > deadline:
                    raise CameraError(
                        f"Camera {self.name!r} ({self.source}) opened but gave no frame within "
                        f"{self.config.open_timeout_s:g} s: is another program using it?"
                    )
                time.sleep(0.01)
        except BaseException:
            self._reader.close()
            self._reader = None
            raise
        self._frames = 0
        self.measured_fps = None
        self._publish(time.perf_counter())
        self._failure = None
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
        self._thread.start()
        try:
            self._check_rate()
        except BaseException:
            self.stop()
            raise
        return self

    def _publish(self, stamp: float) -> None:
        """The capture thread finished the back buffer: it becomes the front one. Only this
        thread changes `_back`, so it may read the index outside the lock."""
        with self._lock:
            self._front, self._back = self._back, self._front
            self._fresh = True
            self._stamp = stamp
            if self._frames < len(self._first_stamps):
                self._first_stamps[self._frames] = stamp
            self._frames += 1

    def _check_rate(self) -> None:
        """Measure the interval over `rate_check_frames` frames (after RATE_CHECK_SKIP: the
        first ones come early or late while a camera settles); refuse a clearly slow camera.
        Waits at most as long as those frames take at the slowest acceptable rate."""
        cfg = self.config
        n = cfg.rate_check_frames
        if n <= 0:
            return
        first, last = RATE_CHECK_SKIP, RATE_CHECK_SKIP + n
        deadline = time.perf_counter() + cfg.open_timeout_s
        while self._frames <= first:
            self._raise_failure()
            if time.perf_counter() > deadline:
                raise CameraError(
                    f"Camera {self.name!r} ({self.source}) gave its first frame, then no more "
                    f"within {cfg.open_timeout_s:g} s: is another program using it?"
                )
            time.sleep(0.002)
        t0 = self._first_stamps[first]
        limit_s = n / (cfg.min_fps_ratio * cfg.fps)  # n intervals at the slowest rate accepted
        while self._frames <= last:
            self._raise_failure()
            elapsed = time.perf_counter() - t0
            if elapsed > limit_s:  # fewer than n intervals in that time: too slow already
                raise self._too_slow((self._frames - 1 - first) / elapsed)
            time.sleep(0.002)
        self.measured_fps = n / (self._first_stamps[last] - t0)
        if self.measured_fps < cfg.min_fps_ratio * cfg.fps:
            raise self._too_slow(self.measured_fps)

    def _too_slow(self, fps: float) -> CameraError:
        cfg = self.config
        return CameraError(
            f"Camera {self.name!r} ({self.source}) delivers {fps:.1f} fps, but {cfg.fps:g} fps "
            f"was requested (at least {cfg.min_fps_ratio * cfg.fps:.1f} needed): choose a mode it "
            "supports at full rate (`v4l2-ctl --list-formats-ext`; MJPG for large frames over "
            "USB 2), give it more light (auto exposure lowers the rate in the dark), use a video "
            "recorded at the requested rate, or lower --fps."
        )

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise CameraError(self._failure)

    def _run(self) -> None:
        reader = self._reader
        assert reader is not None
        period = 1.0 / reader.fps if reader.fps else 0.0
        next_tick = time.perf_counter()
        failing_since: float | None = None
        give_up_s = max(1.0, 5.0 / self.config.fps)
        try:
            while not self._stop.is_set():
                if period:
                    next_tick += period
                    delay = next_tick - time.perf_counter()
                    if delay > 0 and self._stop.wait(delay):
                        break
                    if delay < -period:  # fell behind: drop the backlog, do not burst
                        next_tick = time.perf_counter()
                if reader.read_into(self._views[self._back]):
                    self._publish(time.perf_counter())
                    failing_since = None
                    continue
                now = time.perf_counter()
                failing_since = failing_since or now
                if now - failing_since > give_up_s:
                    self._failure = (
                        f"Camera {self.name!r} ({self.source}) stopped delivering frames for "
                        f"{now - failing_since:.1f} s: was it unplugged?"
                    )
                    return
                self._stop.wait(0.005)
        except Exception as e:  # surfaced to readers by latest()
            self._failure = (
                str(e)
                if isinstance(e, CameraError)
                else f"Camera {self.name!r} ({self.source}) failed while capturing: {e!r}"
            )

    def stop(self) -> None:
        """Stop capturing and release the source; safe to call more than once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15.0)
            if self._thread.is_alive():  # stuck in a driver read: releasing now could crash
                return
            self._thread = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> Camera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _check_running(self) -> None:
        if self._failure is not None:
            raise CameraError(self._failure)
        if self._thread is None:
            raise CameraError(f"Camera {self.name!r} is not started (use start() or `with`).")

    def _check_age(self, age: float, max_age_s: float | None) -> None:
        limit = self.config.max_age_s if max_age_s is None else max_age_s
        if age > limit:
            raise CameraError(
                f"Camera {self.name!r} ({self.source}): newest frame is {age * 1e3:.0f} ms old, "
                f"over the {limit * 1e3:.0f} ms limit: the camera stalled or was disconnected."
            )

    def check(self, max_age_s: float | None = None) -> float:
        """The newest frame's age, without copying it; raises CameraError like `latest()`."""
        self._check_running()
        age = time.perf_counter() - self._stamp
        self._check_age(age, max_age_s)
        return age

    @property
    def buffers(self) -> tuple[np.ndarray, ...]:
        """Every array `acquire()` may return (the camera's rotating (1,H,W,3) buffers)."""
        return self._buffers

    def acquire(self, max_age_s: float | None = None) -> tuple[np.ndarray, float]:
        """The newest complete frame as a (1,H,W,3) uint8 array, without copying, and its age.

        The array is one of the camera's own buffers: the capture thread does not write it until
        the next `acquire()` call, which hands it back (read it, do not write it). Without a new
        frame since the last call, the same buffer comes back. Raises CameraError like `latest()`.
        """
        self._check_running()
        with self._lock:
            age = time.perf_counter() - self._stamp
            self._check_age(age, max_age_s)  # before the swap: a refused call releases nothing
            if self._fresh:
                self._held, self._front = self._front, self._held
                self._fresh = False
            held = self._held
        return self._buffers[held], age

    def latest(
        self, out: np.ndarray | None = None, max_age_s: float | None = None
    ) -> tuple[np.ndarray, float]:
        """Copy the newest frame into `out` (H,W,3 or 1,H,W,3 uint8) and return it with its age.

        Without `out` a new array is returned. Raises CameraError when the camera is not running,
        died, or its newest frame is older than max_age_s (default: the config's).
        """
        self._check_running()
        if out is None:
            out = np.empty(self.config.shape, np.uint8)
        dst = out[0] if out.ndim == 4 else out
        if dst.shape != self.config.shape or out.dtype != np.uint8:
            raise CameraError(
                f"Camera {self.name!r}: output buffer is {out.dtype}{list(out.shape)}, needs "
                f"uint8{list(self.config.shape)} or uint8{[1, *self.config.shape]}."
            )
        with self._lock:  # the newest frame is in front, or held if acquire() took it
            np.copyto(dst, self._views[self._front if self._fresh else self._held])
            age = time.perf_counter() - self._stamp
        self._check_age(age, max_age_s)
        return out, age


# --- several cameras ----------------------------------------------------------------------------


class CameraSet:
    """Several cameras opened together (all or none), read together, closed together."""

    def __init__(
        self,
        sources: Mapping[str, CameraSource],
        config: CameraConfig | Mapping[str, CameraConfig] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        if not sources:
            raise CameraError("No cameras given: pass at least one NAME=SOURCE.")
        config = CameraConfig() if config is None else config
        if not isinstance(config, CameraConfig):
            missing = [n for n in sources if n not in config]
            if missing:
                raise CameraError(f"No camera config for {', '.join(map(repr, missing))}.")
        self.cameras: dict[str, Camera] = {
            name: Camera(
                name, src, config if isinstance(config, CameraConfig) else config[name], context
            )
            for name, src in sources.items()
        }
        self._list = tuple(self.cameras.values())
        self._stack: ExitStack | None = None

    @property
    def names(self) -> list[str]:
        return list(self.cameras)

    def __enter__(self) -> CameraSet:
        with ExitStack() as stack:
            for camera in self.cameras.values():
                stack.enter_context(camera)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def allocate(self, batch: bool = False) -> dict[str, np.ndarray]:
        """One zeroed frame buffer per camera, (H,W,3) or with batch=True (1,H,W,3)."""
        lead = (1,) if batch else ()
        return {n: np.zeros((*lead, *c.config.shape), np.uint8) for n, c in self.cameras.items()}

    def read_into(self, out: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Copy every camera's newest frame into out[name]; return each frame's age in seconds."""
        return {name: cam.latest(out[name])[1] for name, cam in self.cameras.items()}

    def acquire(self, name: str) -> tuple[np.ndarray, float]:
        """Camera `name`'s newest frame, (1,H,W,3) without a copy, and its age: see
        `Camera.acquire` (the buffer stays untouched until that camera's next acquire)."""
        return self.cameras[name].acquire()

    def buffers(self, name: str) -> tuple[np.ndarray, ...]:
        """Every array `acquire(name)` may return."""
        return self.cameras[name].buffers

    def check(self) -> None:
        """Raise CameraError if any camera died or stalled (copies no frame: cheap every tick)."""
        for cam in self._list:
            cam.check()

    def latest(self) -> dict[str, tuple[np.ndarray, float]]:
        """Every camera's newest frame (a new array) and its age: convenient, not for hot loops."""
        return {name: cam.latest() for name, cam in self.cameras.items()}
