"""The twin's cameras as camera sources: `--cameras front=sim,handeye=sim` (each policy camera
from the twin camera of its name) or `wrist_cam=sim:handeye` (mapped).

Two ways to deliver them, one per clock:
- `SimFrameReader` (real time, `run --port sim`): a FrameReader for the regular camera threads;
  it copies the newest frame the real-time driver rendered (act_tool.sim.realtime);
- `LockstepCameras` (evaluation): the loop's Cameras interface itself, rendered on the control
  thread at each lockstep tick (act_tool.sim.clock), so the frames a tick sees are those of
  the physics state it reads, on every run of a seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from act_tool.hw.camera_sources import CameraConfig, CameraError, CameraSource
from act_tool.sim.twin import CAMERAS, Twin

SYNTAX = "sim[:" + "|".join(CAMERAS) + "]"


def parse_sim_source(text: str, position: int) -> CameraSource:
    """`sim` (the twin camera named like the policy's) or `sim:CAMERA`."""
    camera = text.removeprefix("sim").removeprefix(":")
    if camera and camera not in CAMERAS:
        raise CameraError(f"Bad twin camera in {text!r}: the twin has {', '.join(CAMERAS)}.")
    return CameraSource("sim", camera)


def twin_camera(name: str, source: CameraSource) -> str:
    """The twin camera behind policy camera `name`."""
    camera = source.location or name
    if camera not in CAMERAS:
        raise CameraError(
            f"Camera {name!r}: the twin has no camera {camera!r} (it has {', '.join(CAMERAS)}); "
            f"map it, e.g. --cameras {name}=sim:{CAMERAS[-1]}"
        )
    return camera


class SimFrameReader:
    """A camera thread's reader of the real-time twin: the newest rendered frame."""

    def __init__(self, name: str, source: CameraSource, config: CameraConfig, driver) -> None:
        self.fps: float | None = config.fps
        self._slot = driver.add_camera(twin_camera(name, source), config.height, config.width)
        self._driver = driver

    def read_into(self, buf: np.ndarray) -> bool:
        return self._driver.copy_frame(self._slot, buf)

    def close(self) -> None:
        pass


def open_sim_camera(
    name: str, source: CameraSource, config: CameraConfig, context: Mapping[str, Any]
) -> SimFrameReader:
    driver = context.get("realtime_twin")
    if driver is None:
        raise CameraError(
            f"Camera {name!r}: 'sim' cameras render the digital twin, which only a simulated "
            "arm has: use --port sim (or act-tool eval --sim)."
        )
    return SimFrameReader(name, source, config, driver)


class LockstepCameras:
    """The loop's Cameras interface on the twin's cameras, rendered by `render()`. One buffer
    per camera: a lockstep tick never overlaps a render."""

    def __init__(self, twin: Twin, sources: Mapping[str, tuple[str, int, int]]) -> None:
        """`sources`: policy camera name -> (twin camera, height, width)."""
        self.twin = twin
        self._sources = dict(sources)
        self.frames = {n: np.zeros((1, h, w, 3), np.uint8) for n, (_, h, w) in sources.items()}
        self.cameras = {
            n: SimpleNamespace(config=SimpleNamespace(shape=(h, w, 3)))
            for n, (_, h, w) in sources.items()
        }
        self.renders = 0

    def render(self) -> None:
        """Every camera, from the twin as it is now (call on the thread that renders)."""
        for name, (camera, _, _) in self._sources.items():
            self.twin.render(camera, self.frames[name][0])
        self.renders += 1

    def latest(self) -> dict[str, tuple[np.ndarray, float]]:
        return {n: (f[0].copy(), 0.0) for n, f in self.frames.items()}

    def read_into(self, out: Mapping[str, np.ndarray]) -> dict[str, float]:
        for name, frame in self.frames.items():
            np.copyto(out[name], frame.reshape(out[name].shape))
        return dict.fromkeys(self.frames, 0.0)

    def acquire(self, name: str) -> tuple[np.ndarray, float]:
        return self.frames[name], 0.0

    def buffers(self, name: str) -> tuple[np.ndarray, ...]:
        return (self.frames[name],)

    def check(self) -> None:
        """Rendered on demand: nothing can stall."""
