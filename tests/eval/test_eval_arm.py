"""`act-tool eval --port`: episodes on the virtual arm with scripted keys (early end, re-record,
Esc, verdicts, interventions), headless verdicts, the reset between episodes, the summary and
its JSON, and the usage errors."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.errors import ActToolError
from act_tool.eval import arm_episodes
from act_tool.eval.arm_episodes import ArmEvalOptions, ResetMode, parse_verdicts, run_arm_eval
from act_tool.eval.keys import Key, Phase, ScriptedKeys, SessionEvents, parse_keys
from act_tool.runtime import loop_setup as loop_module  # where the loop makes its scheduler
from act_tool.runtime.arm_kinds import ArmOptions
from act_tool.runtime.loop_config import LoopConfig
from act_tool.runtime.runners.base import ACTION, Runner
from act_tool.runtime.scheduling import AsyncScheduler
from act_tool.runtime.session import RunOptions

FPS = 30  # the tiny policy's


def options(onnx: Path, **kw) -> ArmEvalOptions:
    base = dict(episodes=3, episode_time_s=0.5, reset_time_s=0.0)
    base.update(kw)
    run = RunOptions(
        onnx, ArmOptions("emulated"), loop=LoopConfig(warmup=1, rt_priority=0, force=True)
    )
    return ArmEvalOptions(run, **base)


class Watch:
    """Keys from a script, plus what the session looked like at each phase: torque, position."""

    def __init__(self, script, spy):
        self.keys = ScriptedKeys(script)
        self.spy = spy
        self.phases: list[tuple[Phase, bool, np.ndarray]] = []
        self.first_ticks: list[bool] = []

    def start(self, press):
        self.keys.start(press)

    def phase(self, episode, phase):
        arm = self.spy["session"].arm
        where = np.zeros(6, dtype=np.float32)
        arm.read_positions(where)
        self.phases.append((phase, arm.torque_enabled, where))
        self.keys.phase(episode, phase)

    def close(self):
        pass

    def begin(self, spec, fps, cameras):
        pass

    def on_tick(self, view):
        if view.tick == 0:
            self.first_ticks.append(view.query)  # a fresh executor queries at once
        self.keys.on_tick(view)

    def end(self, stop_reason):
        pass


@pytest.fixture
def spy(monkeypatch):
    """The session the episodes run in, and how often the runner was reset."""
    seen: dict = {"resets": 0}
    real_open, real_reset = arm_episodes.open_session, Runner.reset

    @contextmanager
    def open_session(opts, log):
        with real_open(opts, log) as s:
            seen["session"] = s
            yield s

    def reset(self):
        seen["resets"] += 1
        real_reset(self)

    monkeypatch.setattr(arm_episodes, "open_session", open_session)
    monkeypatch.setattr(Runner, "reset", reset)
    return seen


def test_scripted_keys_end_rerecord_stop_verdicts_interventions(tiny_onnx, spy):
    script = {
        (0, 3): [Key.INTERVENTION],
        (0, 5): [Key.INTERVENTION, Key.NEXT],  # ends episode 1 early
        (0, "reset"): [Key.SUCCESS],
        (1, 2): [Key.RERECORD],  # episode 2's first run is discarded
        (2, 1): [Key.FAILURE, Key.INTERVENTION],  # its second run
        (3, 4): [Key.STOP],  # Esc in episode 3: kept, and the session stops
    }
    watch = Watch(script, spy)
    report = run_arm_eval(options(tiny_onnx, episodes=5), lambda _m: None, watch)
    assert [e.success for e in report.episodes] == [True, False, None]
    assert [e.interventions for e in report.episodes] == [2, 1, 0]
    assert report.rerecorded == 1 and report.stopped
    first, second, third = report.episodes
    assert first.ticks == 6 and first.stop_reason == "ended by the operator"  # ticks 0..5
    # 0.5 s at 30 Hz on the wall clock: 15 ticks, less any slots a busy machine skipped
    assert second.stop_reason == "duration reached" and 1 <= second.ticks <= 15
    assert third.ticks == 5
    # every run of the loop started from a reset runner and a fresh executor (one more reset:
    # the self-check's, after its inferences and before the arm connects)
    assert spy["resets"] == 1 + 4 and watch.first_ticks == [True] * 4
    # between episodes (the default reset) the arm was limp; during them torque was on
    torque = [(p, on) for p, on, _ in watch.phases]
    assert (Phase.RESET, False) in torque and all(on for p, on in torque if p is Phase.EPISODE)
    d = report.to_dict()
    assert d["success"]["count"] == 1 and d["success"]["judged"] == 2
    assert d["interventions_per_episode"] == pytest.approx(1.0)
    assert d["rerecorded"] == 1 and d["stopped_by_operator"]
    text = report.text()
    assert "episode success: 1/2 = 50 %" in text and "1 without a verdict" in text


def test_reset_home_returns_to_the_pose_of_the_start(tiny_onnx, spy):
    script = {(0, 0): [Key.INTERVENTION]}
    watch = Watch(script, spy)
    opts = options(tiny_onnx, episodes=2, reset=ResetMode.HOME, reset_time_s=1.5)
    run_arm_eval(opts, lambda _m: None, watch)
    start = watch.phases[0][2]
    (_, torque, _), (_, _, second_start) = watch.phases[1], watch.phases[2]
    assert torque is False  # the reset period begins after the loop's torque off
    assert spy["session"].arm is not None
    # the emulated servos settle on the goal's count: one count of rounding each way
    count_deg = 360 / 4096
    assert np.abs(second_start[:5] - start[:5]).max() <= 2 * count_deg
    assert watch.phases[2][1]  # torque stayed on, holding home, into episode 2


def test_headless_verdicts_and_keys_outside_episodes_ignored(tiny_onnx):
    opts = options(tiny_onnx, episodes=2, verdicts=(True, None))
    report = run_arm_eval(opts, lambda _m: None)
    assert [e.success for e in report.episodes] == [True, None]
    events = SessionEvents()
    events.press(Key.SUCCESS)  # before any episode
    assert events.ignored == 1 and events.verdict is None


def test_parse_verdicts_and_terminal_bytes():
    assert parse_verdicts("s, f,?", 3) == (True, False, None)
    with pytest.raises(ActToolError, match="2 verdicts for --episodes 3"):
        parse_verdicts("s,f", 3)
    with pytest.raises(ActToolError, match="s, f or ?"):
        parse_verdicts("s,x", 2)
    assert parse_keys(b"\x1b[Cs\x1b[Di\x1bF") == [Key.NEXT, Key.SUCCESS, Key.RERECORD,
                                                  Key.INTERVENTION, Key.STOP, Key.FAILURE]  # fmt: skip


def test_cli_eval_on_the_emulated_arm_writes_the_summary(tiny_onnx, tmp_path):
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            str(tiny_onnx),
            "--port",
            "emulated",
            "--episodes",
            "2",
            "--episode-time",
            "0.3",
            "--reset-time",
            "0",
            "--verdicts",
            "s,f",
            "--force",
            "--json",
            str(out),
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert "episode success: 1/2 = 50 % [" in result.output
    assert "interventions per episode: 0.00" in result.output
    data = json.loads(out.read_text())
    assert data["episodes"] == 2 and data["success"]["judged"] == 2
    lo, hi = data["success"]["ci95"]
    assert 0 < lo < 0.5 < hi < 1
    assert [e["success"] for e in data["per_episode"]] == [True, False]
    assert all(1 <= e["ticks"] <= 9 for e in data["per_episode"])  # 0.3 s at 30 Hz


def _unwritable_file_parent(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("")
    return tmp_path / "a-file" / "eval.json"  # its folder is a file: cannot be made


def _unwritable_read_only(tmp_path: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    return folder / "eval.json"


@pytest.mark.parametrize("where", [_unwritable_file_parent, _unwritable_read_only])
def test_cli_eval_arm_unwritable_json_is_refused_before_the_arm_moves(
    tiny_onnx, tmp_path, monkeypatch, where
):
    def no_session(*_a, **_k):
        raise AssertionError("the session opened (runner, arm) before --json was checked")

    monkeypatch.setattr(arm_episodes, "open_session", no_session)
    out = where(tmp_path)
    result = CliRunner().invoke(
        app, ["eval", str(tiny_onnx), "--port", "emulated", "--episodes", "1", "--json", str(out)]
    )
    assert result.exit_code != 0, result.output
    assert f"--json: cannot write into {out.parent}" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--verdicts", "s"], "1 verdicts for --episodes 2"),
        (["--sim"], "one of them"),
        (["--compare", "lerobot"], "--compare is for --sim"),
        (["--resume"], "--task, --resume and --record-codec go with --record"),
    ],
)
def test_cli_eval_arm_usage_errors(tiny_onnx, args, message):
    result = CliRunner().invoke(
        app, ["eval", str(tiny_onnx), "--port", "emulated", "--episodes", "2", *args]
    )
    assert result.exit_code != 0
    assert message in result.output


class CtrlC:
    """Ctrl-C at a tick of the n-th run of the loop (the loop turns it into its stop reason)."""

    def __init__(self, run: int, tick: int) -> None:
        self.run, self.tick, self.runs = run, tick, -1

    def begin(self, spec, fps, cameras):
        self.runs += 1

    def on_tick(self, view):
        if self.runs == self.run and view.tick == self.tick:
            raise KeyboardInterrupt

    def end(self, stop_reason):
        pass


def test_ctrl_c_ends_the_session_keeping_the_finished_episodes(tiny_onnx, spy):
    report = run_arm_eval(
        options(tiny_onnx, episodes=3), lambda _m: None, observers=[CtrlC(run=1, tick=2)]
    )
    assert report.interrupted and len(report.episodes) == 1
    assert spy["session"].arm.torque_enabled is False
    assert "interrupted (Ctrl-C)" in report.text()


class Tagged:
    """With --async: every inference of the loop tagged with its serial number (written into
    the chunk's last action, where the executor's copy keeps it), where it ran (which run of
    the loop, how many runner resets had happened), the chunks each run's ticks received, and
    every async worker (scheduler) the loop made."""

    def __init__(self, spy, monkeypatch) -> None:
        self.spy = spy
        self.runs = -1
        self.inferences: list[tuple[int, int]] = []  # per serial: (run, resets so far)
        self.resets_at_begin: list[int] = []
        self.chunks: list[list[tuple[int, float]]] = []  # per run: (tick, serial)
        self.first_query: list[bool] = []
        self.schedulers: list[AsyncScheduler] = []
        self.closed: list[bool] = []
        self.closed_before_begin: list[bool] = []
        made, closed = self.schedulers, self.closed

        class Watched(AsyncScheduler):
            def __init__(self, *a, **kw) -> None:
                super().__init__(*a, **kw)
                made.append(self)
                closed.append(False)

            def close(self) -> None:
                super().close()
                closed[made.index(self)] = True

        monkeypatch.setattr(loop_module, "AsyncScheduler", Watched)

    def begin(self, spec, fps, cameras):
        self.runs += 1
        self.resets_at_begin.append(self.spy["resets"])
        self.chunks.append([])
        self.closed_before_begin.append(all(self.closed))  # the last run's worker is gone
        if self.runs == 0:  # before the first warm-up: every inference of the loop is tagged
            runner = self.spy["session"].runner
            infer = runner.infer

            def tagged():
                out = infer()
                self.inferences.append((self.runs, self.spy["resets"]))
                out[ACTION][0, -1, -1] = len(self.inferences) - 1
                return out

            runner.infer = tagged

    def on_tick(self, view):
        if view.tick == 0:
            self.first_query.append(view.query)
        if view.chunk is not None:
            self.chunks[-1].append((view.tick, float(view.chunk[-1, -1])))

    def end(self, stop_reason):
        pass


def test_async_each_episode_starts_from_a_reset_runner_and_a_fresh_worker(
    tiny_onnx, spy, monkeypatch
):
    opts = options(tiny_onnx, episodes=3, episode_time_s=0.7)
    opts = replace(opts, run=replace(opts.run, loop=replace(opts.run.loop, asynchronous=True)))
    tagged = Tagged(spy, monkeypatch)
    report = run_arm_eval(opts, lambda _m: None, observers=[tagged])
    assert len(report.episodes) == 3 and tagged.runs == 2
    # one worker per episode, each closed when its episode ended, before the next one began
    assert len(tagged.schedulers) == 3 and len({id(s) for s in tagged.schedulers}) == 3
    assert all(tagged.closed) and tagged.closed_before_begin == [True] * 3
    # a fresh worker has no chunk: its first tick queries the policy and waits for the chunk
    assert tagged.first_query == [True] * 3
    for run, chunks in enumerate(tagged.chunks):
        assert chunks and chunks[0][0] == 0, chunks  # the first action's chunk came at tick 0
        for _tick, serial in chunks:
            assert serial == int(serial)  # the tag, copied: exact
            where, resets = tagged.inferences[int(serial)]
            # made in this episode, after the runner's reset that follows its warm-up
            assert where == run, (run, chunks, tagged.inferences)
            assert resets > tagged.resets_at_begin[run]
