"""The loop with in-memory fakes: channel order, overruns, the clamp. Fast, no processes."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from act_tool.runtime.loop import LoopConfig, run_loop
from act_tool.runtime.runners.base import ACTION, STATE, Runner
from act_tool.spec import CameraSpec, EngineSpec

NAMES = tuple(f"j{i}.pos" for i in range(6))


def make_spec(order: str = "bgr", chunk: int = 5) -> EngineSpec:
    return EngineSpec(
        artifact="x",
        cameras=(CameraSpec("observation.images.front", 4, 6, order),),
        state_names=NAMES,
        action_names=NAMES,
        units="degrees",
        fps=30,
        chunk_size=chunk,
        n_action_steps=chunk,
        temporal_ensemble_coeff=None,
        state_min=(-10.0,) * 6,
        state_max=(10.0,) * 6,
    )


class FakeRunner(Runner):
    backend = "fake"

    def __init__(self, spec: EngineSpec, chunk_value: float = 1.0, delay_s: float = 0.0):
        super().__init__("x", spec)
        self.seen_frames: list[np.ndarray] = []
        self.seen_states: list[np.ndarray] = []
        self.chunk_value, self.delay_s = chunk_value, delay_s

    def _open(self) -> None:
        for ts in self.input_specs:
            self.inputs[ts.name] = ts.allocate()
        for ts in self.output_specs:
            self.outputs[ts.name] = ts.allocate()
        self.outputs[ACTION][...] = self.chunk_value

    def _infer(self) -> None:
        time.sleep(self.delay_s)
        self.seen_frames.append(self.inputs["observation.images.front"].copy())
        self.seen_states.append(self.inputs[STATE].copy())


class FakeArm:
    units = "degrees"
    joint_names = NAMES

    def __init__(self) -> None:
        self.sent: list[np.ndarray] = []
        self.torque = True
        self.state = np.arange(6, dtype=np.float32)

    def read_positions(self, out):
        np.copyto(out, self.state)
        self.state += 0.01
        return out

    def write_goals(self, goals):
        self.sent.append(np.array(goals))
        return goals

    def disable_torque(self):
        self.torque = False


class FakeCameras:
    def __init__(self, h: int = 4, w: int = 6) -> None:
        self.cameras = {"front": SimpleNamespace(config=SimpleNamespace(shape=(h, w, 3)))}
        bgr = np.zeros((1, h, w, 3), np.uint8)
        bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30  # B, G, R
        self.bgr = bgr

    def read_into(self, out):
        np.copyto(out["front"], self.bgr)
        return {"front": 0.0}


@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_frames_reach_the_runner_in_the_spec_channel_order(order):
    cams, arm = FakeCameras(), FakeArm()
    with FakeRunner(make_spec(order)) as runner:
        run_loop(runner, arm, cams, LoopConfig(fps=200, n_action_steps=5, max_ticks=10), print)
    frame = runner.seen_frames[-1]
    expected = cams.bgr if order == "bgr" else cams.bgr[..., ::-1]
    np.testing.assert_array_equal(frame, expected)
    # The state the policy saw is the one read on its query tick (tick 5: the 7th read).
    np.testing.assert_allclose(runner.seen_states[-1][0], np.arange(6) + 0.01 * 6, atol=1e-5)
    assert len(arm.sent) == 10 and not arm.torque


def test_goals_are_clamped_to_the_training_range():
    arm = FakeArm()
    with FakeRunner(make_spec(), chunk_value=50.0) as runner:
        run_loop(runner, arm, FakeCameras(), LoopConfig(fps=200, n_action_steps=5, max_ticks=3))
    # range -10..10, 10 % margin of the span (2) -> 12
    assert all(np.allclose(g, 12.0) for g in arm.sent)


def test_overruns_are_counted_and_slots_skipped():
    arm = FakeArm()
    with FakeRunner(make_spec(chunk=2), delay_s=0.03) as runner:
        summary = run_loop(
            runner, arm, FakeCameras(), LoopConfig(fps=100, n_action_steps=2, max_ticks=10)
        )
    assert summary.ticks == 10
    assert summary.overruns == 5  # every query tick (every other tick) takes 30 ms of a 10 ms slot
    assert summary.missed_slots >= 10
    assert summary.achieved_hz < 60


def test_async_with_ensembling_is_refused():
    from act_tool.errors import ActToolError

    with pytest.raises(ActToolError, match="one or the other"):
        LoopConfig(fps=30, n_action_steps=1, temporal_ensemble_coeff=0.01, asynchronous=True)
