"""The loop binds camera buffers to runners that read in place (no frame copy) for BGR policies,
and keeps the copy for RGB policies and for runners that copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from act_tool.runtime.loop import LoopConfig, run_loop
from act_tool.runtime.runners import ACTION, STATE, open_runner
from tests.tolerances import FP32_BOUND, assert_within, network_bound

from .test_loop import config, rig
from .test_loop_fakes import FakeArm, FakeCameras, FakeRunner, make_spec

FRONT = "observation.images.front"


class InPlaceRunner(FakeRunner):
    """A fake runner that reads bound arrays in place, as ONNX Runtime on the CPU does."""

    binds_without_copy = True

    def __init__(self, *a, **k) -> None:
        super().__init__(*a, **k)
        self.read_from: list[np.ndarray] = []  # the array each infer read the frame from

    def _bind_input(self, name: str, array: np.ndarray) -> None:
        self.inputs[name] = array

    def _infer(self) -> None:
        self.read_from.append(self.inputs[FRONT])
        super()._infer()


@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_bgr_frames_are_bound_rgb_frames_copied(order):
    cams, arm = FakeCameras(), FakeArm()
    with InPlaceRunner(make_spec(order)) as runner:
        run_loop(runner, arm, cams, LoopConfig(fps=200, n_action_steps=5, max_ticks=10))
    # Chunks of 5: the warm-up and ticks 0 and 5 read frames; the 8 other ticks check health.
    if order == "bgr":
        assert (cams.acquires, cams.reads, cams.checks) == (3, 0, 8)
        assert all(a is cams.bgr for a in runner.read_from), "the camera's buffer, bound"
    else:  # the policy wants RGB: staged and flipped into the runner's own buffer
        assert (cams.acquires, cams.reads, cams.checks) == (0, 3, 8)
        assert not any(a is cams.bgr for a in runner.read_from)
    assert runner.inputs[FRONT] is not cams.bgr, "after the run: the runner's own buffer again"
    expected = cams.bgr if order == "bgr" else cams.bgr[..., ::-1]
    assert len(runner.seen_frames) == 5  # 3 warm-up inferences, 2 queries
    for frame in runner.seen_frames:
        np.testing.assert_array_equal(frame, expected)


class Spy:
    """Wraps a runner: at every infer, whether each frame input is one of its camera's own
    buffers, and copies of the inputs and of the chunk."""

    def __init__(self, inner, cams) -> None:
        self._inner, self._cams = inner, cams
        self.calls: list[tuple[dict[str, np.ndarray], np.ndarray, bool]] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def infer(self):
        inputs = self._inner.inputs
        owned = all(
            any(inputs[c.key] is b for b in self._cams.cameras[c.name]._buffers)
            for c in self._inner.spec.cameras
        )
        feeds = {k: v.copy() for k, v in inputs.items()}
        out = self._inner.infer()
        self.calls.append((feeds, out[ACTION].copy(), owned))
        return out


class CountingCameras:
    def __init__(self, inner) -> None:
        self.inner, self.cameras = inner, inner.cameras
        self.latest, self.check = inner.latest, inner.check
        self.reads = self.acquires = 0

    def read_into(self, out):
        self.reads += 1
        return self.inner.read_into(out)

    def acquire(self, name):
        self.acquires += 1
        return self.inner.acquire(name)

    def buffers(self, name):
        return self.inner.buffers(name)


def test_onnxruntime_loop_reads_camera_buffers_in_place(tiny_onnx: Path, tmp_path: Path):
    """On the virtual arm with synthetic cameras: every query's frames are the cameras' own
    buffers, and each chunk is what the plain (copying) path gives for the same observation."""
    with rig(tiny_onnx, tmp_path) as (runner, arm, cams, virtual):
        assert runner.binds_without_copy
        spy, counting = Spy(runner, cams), CountingCameras(cams)
        spec = runner.spec
        summary = run_loop(spy, arm, counting, config(spec, max_ticks=30))
    assert summary.inferences == 30 // spec.n_action_steps
    n_cams = len(spec.cameras)
    assert counting.reads == 0 and counting.acquires == n_cams * (summary.inferences + 1)
    assert len(spy.calls) == summary.inferences + 1 and all(owned for _, _, owned in spy.calls)
    first, last = spy.calls[0][0], spy.calls[-1][0]
    assert not np.array_equal(first[FRONT], last[FRONT]), "newer frames reached the policy"
    with open_runner(tiny_onnx) as plain:
        # Another session (its own thread count): each within the FP32 parity bound of LeRobot.
        bound = network_bound(plain.spec.action_std, FP32_BOUND, FP32_BOUND)
        for feeds, chunk, _ in spy.calls:
            for name, value in feeds.items():
                np.copyto(plain.inputs[name], value)
            assert_within(plain.infer()[ACTION], chunk, bound, "plain path vs bound frames")
            assert feeds[STATE].any()
