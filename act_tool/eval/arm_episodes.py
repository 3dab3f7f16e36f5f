"""`act-tool eval --port ...`: evaluation episodes on an arm, as `lerobot-record --policy.path`
runs them.

The runner, arm and cameras open once (act_tool.runtime.session.open_session) and the arm's pose
at that moment is recorded as home. Each episode is one run of the control loop (every option of
`run` applies) for `--episode-time` seconds or until the operator ends it; the loop's warm-up
resets the runner and builds a fresh executor (queue, ensembler, async worker), as LeRobot's
`policy.reset()`. Torque goes off at the end of every episode; the reset period then leaves it
off (the operator resets the scene with the arm limp) or, with `--reset home`, turns it on and
brings the arm back to home, holding it there. The verdict of an episode comes from the
operator's keys (act_tool.eval.keys), else from `--verdicts`, else it stays unknown; an arm that
judges its own episodes (the simulated one, `--port sim`: act_tool.sim.judge) lays out a fresh
cell before each and gives the twin's verdict, with grasps counted as `eval --sim` counts them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from act_tool.compat import StrEnum
from act_tool.errors import ActToolError
from act_tool.eval.keys import KeySource, NoKeys, Phase, SessionEvents
from act_tool.eval.results import EpisodeResult
from act_tool.runtime.interfaces import SessionArm, TaskVerdict
from act_tool.runtime.loop import run_loop
from act_tool.runtime.loop_config import RealClock
from act_tool.runtime.observers import TickObserver
from act_tool.runtime.park import move_to
from act_tool.runtime.session import RunOptions, Session, open_session
from act_tool.runtime.telemetry import RunSummary

Log = Callable[[str], None]
HOME_SPEED = 30.0  # units/s: the fastest joint's speed on the way home (degrees, gripper 0..100)
MIN_HOME_S = 1.0


class ResetMode(StrEnum):
    OFF = "off"  # torque off: the arm is limp while the operator resets the scene
    HOME = "home"  # back to the pose recorded at the session's start, held there


def parse_verdicts(text: str | None, episodes: int) -> tuple[bool | None, ...] | None:
    """`s,f,?,...`: one verdict per episode (s success, f failure, ? unknown)."""
    if text is None:
        return None
    words = [w.strip().lower() for w in text.split(",")]
    table = {"s": True, "f": False, "?": None}
    wrong = [w for w in words if w not in table]
    if wrong:
        raise ActToolError(f"--verdicts takes s, f or ? per episode; got {', '.join(wrong)}")
    if len(words) != episodes:
        raise ActToolError(
            f"--verdicts gives {len(words)} verdicts for --episodes {episodes}: give one per "
            "episode (s, f or ?)"
        )
    return tuple(table[w] for w in words)


class Recorder(TickObserver, Protocol):
    """What the session needs of a recorder beside the observer calls (see
    act_tool.eval.recording)."""

    def save_episode(self) -> None: ...
    def discard_episode(self) -> None: ...


@dataclass(frozen=True)
class ArmEvalOptions:
    run: RunOptions
    episodes: int = 10
    episode_time_s: float = 60.0
    reset_time_s: float = 20.0
    reset: ResetMode = ResetMode.OFF
    verdicts: tuple[bool | None, ...] | None = None  # headless verdicts, one per episode

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ActToolError(f"--episodes must be at least 1, got {self.episodes}")
        if self.episode_time_s <= 0:
            raise ActToolError(f"--episode-time must be positive, got {self.episode_time_s}")
        if self.reset_time_s < 0:
            raise ActToolError(f"--reset-time must be >= 0, got {self.reset_time_s}")
        if self.verdicts is not None and len(self.verdicts) != self.episodes:
            raise ActToolError(
                f"--verdicts gives {len(self.verdicts)} verdicts for --episodes {self.episodes}"
            )
        if self.reset is ResetMode.HOME and self.run.loop.dry_run:
            raise ActToolError("--reset home moves the arm; a --dry-run keeps torque off")


@dataclass
class ArmEvalReport:
    episodes: list[EpisodeResult] = field(default_factory=list)
    rerecorded: int = 0  # episodes discarded by the operator (left arrow) and run again
    stopped: bool = False  # the operator stopped the session (Esc)
    interrupted: bool = False  # Ctrl-C (or SIGTERM): the episode under way was not kept
    ignored_keys: int = 0
    judged_by: str = "operator"  # or "twin": the simulated arm's detectors

    def to_dict(self) -> dict[str, Any]:
        from act_tool.eval.results import BackendSummary

        d = BackendSummary("arm", self.episodes).to_dict()
        durations = [e.duration_s for e in self.episodes]
        return {
            "episodes": len(self.episodes),
            "judged_by": self.judged_by,
            "success": d["success"],
            "unknown_verdicts": sum(e.success is None for e in self.episodes),
            "interventions": sum(e.interventions for e in self.episodes),
            "interventions_per_episode": d["interventions_per_episode"],
            **(
                {"grasp": d["grasp"], "attempts_per_episode": d["attempts_per_episode"]}
                if self.judged_by == "twin"
                else {}
            ),  # fmt: skip
            "mean_episode_s": sum(durations) / len(durations) if durations else None,
            "rerecorded": self.rerecorded,
            "stopped_by_operator": self.stopped,
            "interrupted": self.interrupted,
            "per_episode": [e.to_dict() for e in self.episodes],
        }

    def text(self) -> str:
        from act_tool.eval.results import percent, wilson

        d = self.to_dict()
        wins, judged = d["success"]["count"], d["success"]["judged"]
        lines = [f"{'episode':>7}  {'verdict':>7}  {'interventions':>13}  {'s':>6}  stop"]
        for i, e in enumerate(self.episodes):
            verdict = {True: "success", False: "failure", None: "?"}[e.success]
            lines.append(
                f"{i + 1:>7}  {verdict:>7}  {e.interventions:>13}  {e.duration_s:>6.1f}  "
                f"{e.stop_reason}"
            )
        rate = percent(wins, judged, *wilson(wins, judged)) if judged else "- (no verdicts)"
        lines.append(f"episode success: {rate}" + (
            f"; {d['unknown_verdicts']} without a verdict" if d["unknown_verdicts"] else ""))  # fmt: skip
        if self.episodes:
            lines.append(
                f"interventions per episode: {d['interventions_per_episode']:.2f} "
                f"({d['interventions']} in {len(self.episodes)} episodes)"
            )
            lines.append(f"episode duration: mean {d['mean_episode_s']:.1f} s")
        if self.judged_by == "twin" and self.episodes:
            g = d["grasp"]
            lines.append(
                f"grasp success: {percent(g['successful'], g['attempts'], *g['ci95'])}; "
                f"verdicts by the twin's detectors (seeds {self.episodes[0].seed}..)"
            )
        if self.rerecorded:
            lines.append(f"re-recorded: {self.rerecorded}")
        if self.stopped:
            lines.append("stopped by the operator (Esc)")
        if self.interrupted:
            lines.append("interrupted (Ctrl-C): the episode under way was not kept")
        return "\n".join(lines)


class EpisodeClock(RealClock):
    """The wall clock, ended early when a key wakes the session (right/left arrow, Esc)."""

    def __init__(self, wake: threading.Event, spin_s: float) -> None:
        super().__init__(spin_s)
        self.wake = wake
        self.stop_reason = "ended by the operator"

    def wait_until(self, deadline: float) -> bool:
        if self.wake.is_set():
            return False
        return super().wait_until(deadline)


def move_home(arm: SessionArm, home: np.ndarray, fps: float, wake: threading.Event) -> None:
    """Torque on, then a straight line in joint space from where the arm is to `home`, at most
    HOME_SPEED per joint; a key that wakes the session cuts it short (the arm holds)."""
    arm.enable_torque()
    move_to(arm, home, fps, HOME_SPEED, MIN_HOME_S, wake)


def run_arm_eval(
    options: ArmEvalOptions,
    log: Log = print,
    keys: KeySource | None = None,
    recorder: Recorder | None = None,
    observers: Sequence[TickObserver] = (),
) -> ArmEvalReport:
    """Run the session; see the module docstring. `keys`: the operator's (default: none);
    `recorder`: saves each kept episode; `observers`: shown every tick (a live view)."""
    keys = keys or NoKeys()
    events = SessionEvents()
    report = ArmEvalReport()
    everyone = [o for o in (recorder, *observers) if o is not None]
    if hasattr(keys, "on_tick"):  # keys scripted at ticks (ScriptedKeys)
        everyone.append(keys)  # type: ignore[arg-type]
    with open_session(options.run, log) as s:
        if s.judge is not None and options.verdicts is not None:
            raise ActToolError("this arm judges its own episodes (the twin): drop --verdicts")
        report.judged_by = "twin" if s.judge is not None else "operator"
        home = np.zeros(len(s.arm.joint_names), dtype=np.float32)
        s.arm.read_positions(home)
        keys.start(events.press)
        torque_on = not s.loop.dry_run
        try:
            while len(report.episodes) < options.episodes and not events.stop:
                n = len(report.episodes)
                if s.judge is not None:  # a fresh cell, the arm at its start, torque off
                    s.arm.disable_torque()
                    s.judge.begin(n)
                    torque_on = False
                if not torque_on and not s.loop.dry_run:
                    s.arm.enable_torque()
                events.enter(Phase.EPISODE)
                keys.phase(n, Phase.EPISODE)
                log(f"episode {n + 1}/{options.episodes}: running (→ ends it, ← re-records, "
                    "Esc stops, s/f verdict, i intervention)")  # fmt: skip
                loop = replace(s.loop, duration_s=options.episode_time_s)
                clock = EpisodeClock(events.wake, loop.spin_s)
                summary = run_loop(
                    s.runner, s.arm, s.cameras, loop, log, clock=clock, observers=everyone
                )
                torque_on = False  # the loop ends with torque off
                if summary.stop_reason.startswith("interrupted"):
                    raise KeyboardInterrupt
                verdict = s.judge.verdict() if s.judge is not None else None  # before the reset
                if events.rerecord and not events.stop:
                    report.rerecorded += 1
                    if recorder is not None:
                        recorder.discard_episode()
                    log(f"episode {n + 1}: discarded, re-recording it after the reset")
                    torque_on = _reset_period(options, s, home, events, keys, n, log)
                    continue
                if recorder is not None:
                    recorder.save_episode()
                last = n + 1 == options.episodes or events.stop
                operator_judges = verdict is None and not isinstance(keys, NoKeys)
                if not last or (events.verdict is None and operator_judges):
                    torque_on = _reset_period(options, s, home, events, keys, n, log, last)
                report.episodes.append(_result(n, summary, events, options, verdict))
        except KeyboardInterrupt:  # the arm closes with torque off (torque_guard)
            report.interrupted = True
            if recorder is not None:
                recorder.discard_episode()
        finally:
            events.enter(Phase.IDLE)
            keys.close()
            report.stopped = events.stop
            report.ignored_keys = events.ignored
    return report


def _result(
    n: int,
    summary: RunSummary,
    events: SessionEvents,
    options: ArmEvalOptions,
    judged: TaskVerdict | None = None,
) -> EpisodeResult:
    """Episode n's result: the twin's verdict (`judged`), else the operator's key, else
    --verdicts, else unknown."""
    task = asdict(judged) if judged is not None else {"seed": n, "success": events.verdict}
    if task["success"] is None and options.verdicts is not None:
        task["success"] = options.verdicts[n]
    return EpisodeResult(
        **task,
        ticks=summary.ticks,
        duration_s=summary.elapsed_s,
        wall_s=summary.elapsed_s,
        interventions=events.interventions,
        stop_reason=summary.stop_reason,
        inferences=summary.inferences,
    )


def _reset_period(
    options: ArmEvalOptions,
    s: Session,
    home: np.ndarray,
    events: SessionEvents,
    keys: KeySource,
    n: int,
    log: Log,
    last: bool = False,
) -> bool:
    """Between episodes: torque off (or the arm back home) for up to --reset-time; → ends it.
    After the last episode, only a window for the verdict (no motion). Returns whether torque
    is on."""
    events.enter(Phase.RESET)
    keys.phase(n, Phase.RESET)
    torque_on = False
    if last:
        log(f"episode {n + 1}: verdict? s success, f failure (→ leaves it unknown)")
    elif options.reset is ResetMode.HOME:
        log(f"reset ({options.reset_time_s:g} s): the arm goes home; → skips")
        move_home(s.arm, home, s.loop.fps, events.wake)
        torque_on = True
    else:
        log(f"reset ({options.reset_time_s:g} s): torque is off; → skips")
    end = time.monotonic() + options.reset_time_s
    while time.monotonic() < end and not events.wake.is_set():
        if last and events.verdict is not None:
            break
        events.wake.wait(min(0.05, max(0.0, end - time.monotonic())))
    return torque_on
