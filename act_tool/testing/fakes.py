"""In-memory stand-ins for a runner, an arm and a set of cameras: the control loop runs against
them without processes, devices or a model. They satisfy act_tool.runtime.interfaces."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from act_tool.hw.camera_sources import CameraError
from act_tool.robot_types import SO101_FOLLOWER, Units
from act_tool.runtime.runners.base import ACTION, STATE, Runner
from act_tool.spec import EngineSpec


class FakeRunner(Runner):
    """No model. `infer()` sleeps `delay_s`, raises from call `fail_on` on, and leaves `chunk`
    (default: every action `chunk_value`) in its output; with `record`, it keeps a copy of the
    first camera's frame and of the state it was given on each call."""

    backend = "fake"

    def __init__(
        self,
        spec: EngineSpec,
        chunk_value: float = 1.0,
        delay_s: float = 0.0,
        fail_on: int | None = None,
        chunk: np.ndarray | None = None,
        record: bool = True,
    ) -> None:
        super().__init__(Path(spec.artifact), spec)
        self.chunk_value, self.delay_s, self.fail_on, self.calls = chunk_value, delay_s, fail_on, 0
        self.chunk, self.record = chunk, record
        self.seen_frames: list[np.ndarray] = []
        self.seen_states: list[np.ndarray] = []

    @property
    def description(self) -> str:
        return f"fake runner ({self.delay_s * 1e3:g} ms)"

    def _open(self) -> None:
        for ts in self.input_specs:
            self.inputs[ts.name] = ts.allocate()
        for ts in self.output_specs:
            self.outputs[ts.name] = ts.allocate()
        self.outputs[ACTION][...] = self.chunk if self.chunk is not None else self.chunk_value

    def _infer(self) -> None:
        self.calls += 1
        if self.fail_on is not None and self.calls >= self.fail_on:
            raise RuntimeError("policy crashed")
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.record:
            self.seen_frames.append(self.inputs[self.spec.cameras[0].key].copy())
            self.seen_states.append(self.inputs[STATE].copy())


def smooth_chunk(chunk_size: int, n_actions: int = 6) -> np.ndarray:
    """(chunk_size, n_actions): every joint ramping from 20 to 30 units."""
    steps = np.linspace(0, 10, chunk_size, dtype=np.float32)[:, None]
    return np.broadcast_to(20.0 + steps, (chunk_size, n_actions)).copy()


class FakeArm:
    """Joints that read 0, 1, 2, ... and creep up by 0.01 per read; goals are recorded."""

    units = Units.DEGREES

    def __init__(self, joint_names: tuple[str, ...] = SO101_FOLLOWER.joints) -> None:
        self.joint_names = joint_names
        self.sent: list[np.ndarray] = []
        self.torque = False
        self.connected = False
        self.state = np.arange(len(joint_names), dtype=np.float32)
        self.started = self.finished = 0

    def __enter__(self) -> FakeArm:
        self.connected = self.torque = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.disable_torque()
        self.connected = False

    def report(self) -> str:
        return ""

    def read_positions(self, out: np.ndarray) -> np.ndarray:
        np.copyto(out, self.state)
        self.state += 0.01
        return out

    def start_read(self) -> None:
        self.started += 1

    def finish_read(self, out: np.ndarray) -> np.ndarray:
        assert self.started == self.finished + 1, "finish_read without start_read"
        self.finished += 1
        return self.read_positions(out)

    def write_goals(self, goals: np.ndarray) -> np.ndarray:
        self.sent.append(np.array(goals))
        return goals

    def disable_torque(self) -> None:
        self.torque = False

    def enable_torque(self) -> None:
        self.torque = True


class FakeCameras:
    """One camera, `front`, asked for h x w frames; `delivered` is the shape it really sends.
    Every frame is the same BGR image (B, G, R = 10, 20, 30)."""

    def __init__(self, h: int = 4, w: int = 6, delivered: tuple[int, ...] | None = None) -> None:
        self.cameras = {"front": SimpleNamespace(config=SimpleNamespace(shape=(h, w, 3)))}
        bgr = np.zeros((1, h, w, 3), np.uint8)
        bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30  # B, G, R
        self.bgr = bgr
        self.delivered = delivered or (h, w, 3)
        self.reads = self.checks = self.acquires = 0
        self.dead_after_checks: int | None = None

    def latest(self):
        return {"front": (np.zeros(self.delivered, np.uint8), 0.0)}

    def read_into(self, out):
        self.reads += 1
        np.copyto(out["front"], self.bgr)
        return {"front": 0.0}

    def acquire(self, name: str):
        self.acquires += 1
        return self.bgr, 0.0

    def buffers(self, name: str):
        return (self.bgr,)

    def check(self) -> None:
        self.checks += 1
        if self.dead_after_checks is not None and self.checks > self.dead_after_checks:
            raise CameraError("Camera 'front' (device 0) stopped delivering frames: unplugged?")
