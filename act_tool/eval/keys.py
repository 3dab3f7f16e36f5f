"""The operator's keys during an evaluation session on the arm, as LeRobot's record has them.

    right arrow  end the episode (or the reset period) now
    left arrow   re-record the episode (discard it, run it again)
    Esc          end the episode and the session (the episode is kept, as LeRobot's record does)
    s / f        the episode's verdict: success / failure (during it or its reset period)
    i            count a human intervention in the episode

A key source feeds `SessionEvents.press` from its own thread; the control tick only reads flags.
`TerminalKeys` reads stdin in cbreak mode when stdin is a terminal; `ScriptedKeys` presses keys
at given ticks (tests, demos). Keys pressed outside an episode and its reset period are ignored.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from act_tool.compat import StrEnum
from act_tool.runtime.observers import TickView
from act_tool.spec import EngineSpec


class Key(StrEnum):
    NEXT = "right"
    RERECORD = "left"
    STOP = "esc"
    SUCCESS = "s"
    FAILURE = "f"
    INTERVENTION = "i"


class Phase(StrEnum):
    IDLE = "idle"  # before the first episode, after the last: keys are ignored
    EPISODE = "episode"
    RESET = "reset"


class SessionEvents:
    """What the keys said about the current episode; thread-safe, reset per episode."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.wake = threading.Event()  # set by keys that end a phase
        self.phase = Phase.IDLE
        self.stop = False
        self.ignored = 0
        self._clear()

    def _clear(self) -> None:
        self.rerecord = False
        self.verdict: bool | None = None
        self.interventions = 0
        self.wake.clear()

    def enter(self, phase: Phase) -> None:
        with self._lock:
            if phase is Phase.EPISODE:
                self._clear()
            self.wake.clear()
            self.phase = phase

    def press(self, key: Key) -> None:
        with self._lock:
            if self.phase is Phase.IDLE:
                self.ignored += 1
                return
            if key is Key.STOP:
                self.stop = True
                self.wake.set()
            elif key is Key.NEXT:
                self.wake.set()
            elif key is Key.RERECORD:
                self.rerecord = True
                self.wake.set()
            elif key in (Key.SUCCESS, Key.FAILURE):
                self.verdict = key is Key.SUCCESS
            elif key is Key.INTERVENTION and self.phase is Phase.EPISODE:
                self.interventions += 1
            else:
                self.ignored += 1


class KeySource(Protocol):
    """Presses keys into `press` from its own thread between `start` and `close`; told the
    session's phases (most sources ignore them)."""

    def start(self, press: Callable[[Key], None]) -> None: ...
    def phase(self, episode: int, phase: Phase) -> None: ...
    def close(self) -> None: ...


class NoKeys:
    """Headless: nobody at the keyboard."""

    def start(self, press: Callable[[Key], None]) -> None:
        pass

    def phase(self, episode: int, phase: Phase) -> None:
        pass

    def close(self) -> None:
        pass


# Terminal byte sequences of the keys (arrows: ANSI escape sequences).
SEQUENCES = {b"\x1b[C": Key.NEXT, b"\x1b[D": Key.RERECORD, b"\x1b": Key.STOP}
SEQUENCES.update({k.value.encode(): k for k in (Key.SUCCESS, Key.FAILURE, Key.INTERVENTION)})
SEQUENCES.update(
    {k.value.upper().encode(): k for k in (Key.SUCCESS, Key.FAILURE, Key.INTERVENTION)}
)


def parse_keys(data: bytes) -> list[Key]:
    """The keys in a chunk of terminal input (unknown bytes skipped)."""
    keys, i = [], 0
    while i < len(data):
        for length in (3, 1):
            key = SEQUENCES.get(data[i : i + length])
            if key is not None:
                keys.append(key)
                i += length
                break
        else:
            i += 1
    return keys


class TerminalKeys:
    """Keys from stdin (a terminal) in cbreak mode, read on a daemon thread; the terminal's mode
    is restored on `close`. POSIX only (termios); elsewhere use --verdicts."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._saved: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def available() -> bool:
        try:
            import termios  # noqa: F401
        except ImportError:
            return False
        return sys.stdin is not None and sys.stdin.isatty()

    def start(self, press: Callable[[Key], None]) -> None:
        import termios
        import tty

        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        self._thread = threading.Thread(target=self._read, args=(press,), name="keys", daemon=True)
        self._thread.start()

    def _read(self, press: Callable[[Key], None]) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if not ready:
                continue
            data = os.read(self.fd, 16)
            if not data:
                return
            for key in parse_keys(data):
                press(key)

    def phase(self, episode: int, phase: Phase) -> None:
        pass

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._saved is not None:
            import termios

            with contextlib.suppress(Exception):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)


class ScriptedKeys:
    """Keys pressed at given moments: `{(episode, tick): [keys]}` presses during the loop's tick
    `tick` of that episode (counting re-recorded runs as new episodes: the n-th run is n), and
    `{(episode, "reset"): [keys]}` at the start of its reset period. Also a tick observer (the
    session adds it to the loop's observers)."""

    def __init__(self, script: Mapping[tuple[int, int | str], Sequence[Key]]) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self._press: Callable[[Key], None] = lambda _k: None
        self._run = -1  # the n-th episode run

    def start(self, press: Callable[[Key], None]) -> None:
        self._press = press

    def phase(self, episode: int, phase: Phase) -> None:
        if phase is Phase.EPISODE:
            self._run += 1
        elif phase is Phase.RESET:
            for key in self.script.get((self._run, "reset"), ()):
                self._press(key)

    def close(self) -> None:
        pass

    def begin(self, spec: EngineSpec, fps: float, cameras: Any) -> None:
        pass

    def on_tick(self, view: TickView) -> None:
        for key in self.script.get((self._run, view.tick), ()):
            self._press(key)

    def end(self, stop_reason: str) -> None:
        pass
