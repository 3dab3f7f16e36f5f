"""--record: episodes saved as a LeRobot dataset (reopened with LeRobotDataset: episodes, frames,
features, and the state and goals the loop had), a re-recorded episode left out, --resume
appending, a writer that falls behind (counted, never silent), a writer that fails (the episode
stops with torque off), and the usage errors before the arm moves."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.eval.arm_episodes import run_arm_eval
from act_tool.eval.keys import Key, ScriptedKeys
from act_tool.eval.recording import DatasetRecorder, RecordingError
from act_tool.runtime.loop_config import LoopError
from tests.eval.test_eval_arm import options

TASK = "Put the red cube in the bowl."


class Logged:
    """What the loop had at each tick: state read, goal written (per run of the loop)."""

    def __init__(self) -> None:
        self.runs: list[list[tuple[np.ndarray, np.ndarray]]] = []

    def begin(self, spec, fps, cameras):
        self.runs.append([])

    def on_tick(self, view):
        self.runs[-1].append((view.state.copy(), view.goal.copy()))

    def end(self, stop_reason):
        pass


def reopen(root: Path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset(f"local/{root.name}", root=root)


@pytest.mark.slow
def test_two_episodes_recorded_and_reopened(tiny_onnx, tmp_path):
    root = tmp_path / "evals"
    recorder = DatasetRecorder(root, TASK, log=lambda _m: None)
    logged = Logged()
    keys = ScriptedKeys({(1, 3): [Key.RERECORD]})  # the second episode's first run: discarded
    try:
        report = run_arm_eval(
            options(tiny_onnx, episodes=2), lambda _m: None, keys, recorder, [logged]
        )
    finally:
        recorder.close()
    assert report.rerecorded == 1 and recorder.dropped == 0
    kept = [logged.runs[0], logged.runs[2]]
    assert recorder.saved == [len(run) for run in kept]
    ds = reopen(root)
    assert ds.num_episodes == 2 and ds.num_frames == sum(recorder.saved)
    spec_cams = [k for k in ds.features if k.startswith("observation.images.")]
    assert spec_cams and all(ds.features[k]["dtype"] == "video" for k in spec_cams)
    assert ds.features["observation.state"]["names"][0] == "shoulder_pan.pos"
    state = np.stack([np.asarray(s) for s in ds.hf_dataset["observation.state"]])
    action = np.stack([np.asarray(a) for a in ds.hf_dataset["action"]])
    # float32 in, float32 out: exactly what the loop had
    np.testing.assert_array_equal(state, np.stack([s for run in kept for s, _ in run]))
    np.testing.assert_array_equal(action, np.stack([g for run in kept for _, g in run]))
    assert ds.meta.tasks.index.tolist() == [TASK]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


@pytest.mark.slow
def test_run_record_then_resume_appends(tiny_onnx, tmp_path):
    root = tmp_path / "runs"
    base = ["run", "--engine", str(tiny_onnx), "--port", "emulated", "--duration", "0.3",
            "--force", "--record", str(root), "--task", TASK]  # fmt: skip
    first = CliRunner().invoke(app, base)
    assert first.exit_code == 0, first.output
    assert "recorded episode 1" in first.output
    again = CliRunner().invoke(app, base)  # an existing dataset without --resume
    assert again.exit_code != 0 and "add --resume" in again.output
    second = CliRunner().invoke(app, [*base, "--resume"])
    assert second.exit_code == 0, second.output
    ds = reopen(root)
    assert ds.num_episodes == 2
    lengths = list(ds.meta.episodes["length"])
    assert len(lengths) == 2 and all(lengths) and sum(lengths) == ds.num_frames


def test_resume_without_a_dataset_and_record_without_task(tiny_onnx, tmp_path):
    base = ["run", "--engine", str(tiny_onnx), "--port", "emulated", "--duration", "0.3"]
    result = CliRunner().invoke(
        app, [*base, "--record", str(tmp_path / "none"), "--task", TASK, "--resume"]
    )
    assert result.exit_code != 0 and "holds no LeRobot dataset" in result.output
    result = CliRunner().invoke(app, [*base, "--record", str(tmp_path / "x")])
    assert result.exit_code != 0 and "--record needs --task" in result.output


class SlowSink:
    """A writer that takes 40 ms per frame (the control rate gives it 33 ms)."""

    def __init__(self, root, spec, fps, resume) -> None:
        self.frames = 0
        self.episodes: list[int] = []

    def add_frame(self, frame) -> None:
        time.sleep(0.04)
        self.frames += 1

    def save_episode(self) -> None:
        self.episodes.append(self.frames)
        self.frames = 0

    def discard_episode(self) -> None:
        self.frames = 0

    def close(self) -> None:
        pass


def test_a_writer_that_falls_behind_is_counted(tiny_onnx, tmp_path):
    said: list[str] = []
    sinks: list[SlowSink] = []

    def factory(*args):
        sinks.append(SlowSink(*args))
        return sinks[-1]

    recorder = DatasetRecorder(tmp_path / "d", TASK, log=said.append, queue_size=2,
                               sink_factory=factory)  # fmt: skip
    try:
        report = run_arm_eval(options(tiny_onnx, episodes=1, episode_time_s=1.0), said.append,
                              recorder=recorder)  # fmt: skip
    finally:
        recorder.close()
    (episode,) = report.episodes
    assert recorder.dropped > 0
    assert sinks[0].episodes == [episode.ticks - recorder.dropped]  # kept + not kept = ticks
    assert any("were not kept" in line for line in said)


class BrokenSink(SlowSink):
    def add_frame(self, frame) -> None:
        raise OSError(28, "No space left on device")


def test_a_failing_writer_stops_the_episode_with_torque_off(tiny_onnx, tmp_path):
    recorder = DatasetRecorder(tmp_path / "d", TASK, log=lambda _m: None,
                               sink_factory=BrokenSink)  # fmt: skip
    with pytest.raises(LoopError, match="No space left on device.*Torque is off"):
        try:
            run_arm_eval(options(tiny_onnx, episodes=2), lambda _m: None, recorder=recorder)
        finally:
            recorder.close()
    assert isinstance(recorder.error, OSError)
    with pytest.raises(RecordingError, match="--task"):
        DatasetRecorder(tmp_path / "e", " ")
