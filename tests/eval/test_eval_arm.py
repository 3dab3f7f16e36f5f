"""`act-tool eval --port`: episodes on the virtual arm with scripted keys (early end, re-record,
Esc, verdicts, interventions), headless verdicts, the reset between episodes, the summary and
its JSON, and the usage errors."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.errors import ActToolError
from act_tool.eval import arm_episodes
from act_tool.eval.arm_episodes import ArmEvalOptions, ResetMode, parse_verdicts, run_arm_eval
from act_tool.eval.keys import Key, Phase, ScriptedKeys, SessionEvents, parse_keys
from act_tool.runtime.arm_kinds import ArmOptions
from act_tool.runtime.loop_config import LoopConfig
from act_tool.runtime.runners.base import Runner
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


@pytest.mark.parametrize(
    "args, message",
    [
        (["--verdicts", "s"], "1 verdicts for --episodes 2"),
        (["--sim"], "one of them"),
        (["--compare", "lerobot"], "--compare is for --sim"),
        (["--resume"], "--task and --resume go with --record"),
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
