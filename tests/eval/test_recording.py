"""--record: episodes saved as a LeRobot dataset (reopened with LeRobotDataset: episodes, frames,
features, videos, and the state and goals the loop had), a re-recorded episode left out, an
interrupted session (its finished episodes readable, during and after it), --resume appending, a
writer that falls behind (counted, never silent), a writer that fails (the episode stops with
torque off; the episodes before it intact), and the usage errors before the arm moves."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.eval.arm_episodes import run_arm_eval
from act_tool.eval.keys import Key, ScriptedKeys
from act_tool.eval.recording import DatasetRecorder, LeRobotSink, RecordingError
from act_tool.runtime.loop_config import LoopError
from tests.eval.test_eval_arm import CtrlC, options
from tests.eval.test_eval_arm import spy as spy  # noqa: F401  (the fixture)

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

    return LeRobotDataset(f"local/{root.name}", root=root, video_backend="pyav")


def check_reopened(root: Path, kept: list[list[tuple[np.ndarray, np.ndarray]]]):
    """The dataset at `root`, reopened with LeRobotDataset, holds exactly the `kept` runs of the
    loop: one episode each with as many frames as the run had ticks, the state and goals the loop
    had (float32 in, float32 out: exact), and videos that decode at each episode's first and last
    frame (a video short of frames fails there)."""
    ds = reopen(root)
    lengths = [len(run) for run in kept]
    assert ds.num_episodes == len(kept) and ds.num_frames == sum(lengths)
    assert list(ds.meta.episodes["length"]) == lengths
    index = [int(i) for i in ds.hf_dataset["episode_index"]]
    assert index == [e for e, n in enumerate(lengths) for _ in range(n)]
    state = np.stack([np.asarray(v) for v in ds.hf_dataset["observation.state"]])
    action = np.stack([np.asarray(v) for v in ds.hf_dataset["action"]])
    np.testing.assert_array_equal(state, np.stack([s for run in kept for s, _ in run]))
    np.testing.assert_array_equal(action, np.stack([g for run in kept for _, g in run]))
    cams = [k for k in ds.features if k.startswith("observation.images.")]
    assert cams and all(ds.features[k]["dtype"] == "video" for k in cams)
    start = 0
    for n in lengths:
        for i in (start, start + n - 1):
            item = ds[i]
            for k in cams:
                h, w, c = ds.features[k]["shape"]
                assert tuple(item[k].shape) == (c, h, w)
        start += n
    assert ds.meta.tasks.index.tolist() == [TASK]
    return ds


def video_codecs(root: Path) -> set[str]:
    """The codec of every video stream the dataset holds, as the files say (not its metadata)."""
    import av

    codecs = set()
    for path in sorted((root / "videos").rglob("*.mp4")):
        with av.open(str(path)) as f:
            codecs.add(f.streams.video[0].codec_context.codec.canonical_name)
    return codecs


def no_staging_left(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_three_episodes_recorded_and_reopened(tiny_onnx, tmp_path):
    root = tmp_path / "evals"
    recorder = DatasetRecorder(root, TASK, log=lambda _m: None)
    logged = Logged()
    keys = ScriptedKeys({(1, 3): [Key.RERECORD]})  # the second episode's first run: discarded
    try:
        report = run_arm_eval(
            options(tiny_onnx, episodes=3, episode_time_s=0.4), lambda _m: None, keys, recorder,
            [logged],
        )  # fmt: skip
    finally:
        recorder.close()
    assert len(report.episodes) == 3 and report.rerecorded == 1 and recorder.dropped == 0
    kept = [logged.runs[0], logged.runs[2], logged.runs[3]]
    assert recorder.saved == [len(run) for run in kept] == [e.ticks for e in report.episodes]
    ds = check_reopened(root, kept)
    assert ds.features["observation.state"]["names"][0] == "shoulder_pan.pos"
    assert video_codecs(root) == {"h264"}  # the default: a fraction of SVT-AV1's CPU
    assert no_staging_left(tmp_path)


class ReopenThenCtrlC(CtrlC):
    """At a tick of the n-th run: reopen the dataset from disk while that episode is being
    written (what a crash there would leave), then Ctrl-C."""

    def __init__(self, root: Path, logged: Logged, run: int, tick: int) -> None:
        super().__init__(run, tick)
        self.root, self.logged = root, logged

    def on_tick(self, view):
        if self.runs == self.run and view.tick == self.tick:
            check_reopened(self.root, self.logged.runs[: self.run])  # the finished ones
        super().on_tick(view)


@pytest.mark.slow
def test_an_interrupted_session_leaves_its_finished_episodes_readable(tiny_onnx, tmp_path):
    root = tmp_path / "evals"
    recorder = DatasetRecorder(root, TASK, log=lambda _m: None)
    logged = Logged()
    ctrl_c = ReopenThenCtrlC(root, logged, run=2, tick=4)  # in episode 3, frames of it queued
    try:
        report = run_arm_eval(
            options(tiny_onnx, episodes=3, episode_time_s=0.4), lambda _m: None,
            recorder=recorder, observers=[logged, ctrl_c],
        )  # fmt: skip
    finally:
        recorder.close()
    assert report.interrupted and len(report.episodes) == 2 and len(logged.runs) == 3
    assert recorder.saved == [len(run) for run in logged.runs[:2]]
    check_reopened(root, logged.runs[:2])  # the third episode's frames left no trace
    assert no_staging_left(tmp_path)


@pytest.mark.slow
def test_run_record_then_resume_appends(tiny_onnx, tmp_path):
    root = tmp_path / "runs"
    base = ["run", "--engine", str(tiny_onnx), "--port", "emulated", "--duration", "0.3",
            "--force", "--record", str(root), "--task", TASK]  # fmt: skip
    first = CliRunner().invoke(app, [*base, "--record-codec", "av1"])
    assert first.exit_code == 0, first.output
    assert "recorded episode 1" in first.output
    again = CliRunner().invoke(app, base)  # an existing dataset without --resume
    assert again.exit_code != 0 and "add --resume" in again.output
    other = CliRunner().invoke(app, [*base, "--resume", "--record-codec", "h264"])
    assert other.exit_code != 0 and "keeps the dataset's own video codec" in other.output
    second = CliRunner().invoke(app, [*base, "--resume"])
    assert second.exit_code == 0, second.output
    ds = reopen(root)
    assert ds.num_episodes == 2
    lengths = list(ds.meta.episodes["length"])
    assert len(lengths) == 2 and all(lengths) and sum(lengths) == ds.num_frames
    assert video_codecs(root) == {"av1"}  # the resumed episode kept the dataset's codec
    ds[0], ds[ds.num_frames - 1]  # both episodes' frames decode


def test_resume_without_a_dataset_and_record_without_task(tiny_onnx, tmp_path):
    base = ["run", "--engine", str(tiny_onnx), "--port", "emulated", "--duration", "0.3"]
    result = CliRunner().invoke(
        app, [*base, "--record", str(tmp_path / "none"), "--task", TASK, "--resume"]
    )
    assert result.exit_code != 0 and "holds no LeRobot dataset" in result.output
    result = CliRunner().invoke(app, [*base, "--record", str(tmp_path / "x")])
    assert result.exit_code != 0 and "--record needs --task" in result.output
    result = CliRunner().invoke(app, [*base, "--record-codec", "av1"])
    assert result.exit_code != 0 and "go with --record DIR" in result.output
    result = CliRunner().invoke(
        app, [*base, "--record", str(tmp_path / "y"), "--task", TASK, "--record-codec", "vp9"]
    )
    assert result.exit_code != 0 and "choose one of h264, av1" in result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


class SlowSink:
    """A writer that takes 200 ms per frame (the control rate gives it 33 ms): it falls behind
    even when a busy machine makes the loop skip slots."""

    def __init__(self, root, spec, fps, resume) -> None:
        self.frames = 0
        self.episodes: list[int] = []

    def add_frame(self, frame) -> None:
        time.sleep(0.2)
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


class FullDisk(LeRobotSink):
    """LeRobot's sink, whose disk fills up at the third frame of the second episode."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.episodes = self.frames = 0

    def add_frame(self, frame) -> None:
        if self.episodes == 1 and self.frames == 2:
            raise OSError(28, "No space left on device")
        super().add_frame(frame)
        self.frames += 1

    def save_episode(self) -> None:
        super().save_episode()
        self.episodes += 1
        self.frames = 0


class TorqueAtEnd(Logged):
    """Logged, plus whether torque was on when each run ended (observers end after torque
    off)."""

    def __init__(self, spy) -> None:
        super().__init__()
        self.spy, self.torque_at_end = spy, []

    def end(self, stop_reason):
        self.torque_at_end.append(self.spy["session"].arm.torque_enabled)


@pytest.mark.slow
def test_a_writer_failing_in_episode_two_keeps_episode_one(tiny_onnx, tmp_path, spy):
    root = tmp_path / "evals"
    said: list[str] = []
    recorder = DatasetRecorder(root, TASK, log=said.append, sink_factory=FullDisk)
    logged = TorqueAtEnd(spy)
    # long episodes: the failure, not the clock, ends the second one
    opts = options(tiny_onnx, episodes=3, episode_time_s=5.0)
    with pytest.raises(LoopError, match="No space left on device.*Torque is off") as failed:
        try:
            run_arm_eval(opts, said.append, recorder=recorder, observers=[logged])
        finally:
            recorder.close()
    assert "recording into" in str(failed.value) and isinstance(recorder.error, OSError)
    assert len(logged.runs) == 2 and logged.torque_at_end == [False, False]
    assert failed.value.summary is not None and failed.value.summary.elapsed_s < 5.0
    assert recorder.saved == [len(logged.runs[0])]
    check_reopened(root, logged.runs[:1])  # episode 1 intact, nothing of episode 2
    assert no_staging_left(tmp_path)


def test_a_codec_this_machine_cannot_encode_is_refused_before_anything_runs(tmp_path, monkeypatch):
    """The encoder is resolved when the recorder is made (before the arm moves), not at the first
    frame: here --record-codec h264 pointed at an encoder no Linux build of PyAV has."""
    import av

    from act_tool.eval import recording

    if "h264_videotoolbox" in av.codecs_available:
        pytest.skip("this PyAV has VideoToolbox (macOS)")
    monkeypatch.setitem(recording.CODECS, "h264", {"vcodec": "h264_videotoolbox"})
    with pytest.raises(RecordingError, match="--record-codec h264: .*choose a codec"):
        DatasetRecorder(tmp_path / "d", TASK)
    assert not (tmp_path / "d").exists() and not list(tmp_path.iterdir())
