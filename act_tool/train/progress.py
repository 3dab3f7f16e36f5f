"""A progress bar for LeRobot training, fed by the training process's output.

LeRobot prints two things we read: its tqdm counter (`Training: ...| 37/500 [...`, written with
carriage returns) for the exact step, and every `log_freq` steps a MetricsTracker line
(`step:1K smpl:8K ep:40 epch:1.2 loss:0.312 grdn:12.5 lr:1.0e-05 ...`) for loss, gradient norm
and learning rate. Both are LeRobot's own stable output formats; nothing here touches LeRobot's
internals, which is why training runs in a subprocess (see `runner.py`).

Under SLURM (SLURM_JOB_ID set) LeRobot turns tqdm off, so the metrics line alone must move the
bar. Its step is `format_big_number(step)` (`step:950`, `step:2K`: exact below 1000, rounded to
a whole K/M above). Logs come at every multiple of `log_freq`, so the exact step is the next
multiple after the last logged one whenever that agrees with the rounded number.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TQDM = re.compile(r"Training:\s*\d+%\|[^|]*\|\s*(\d+)/(\d+)")
NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
METRICS = re.compile(
    rf"\bstep:(\d+\.?\d*)([KMBTQ]?) .*?\bloss:{NUMBER}\b.*?\bgrdn:{NUMBER}.*?\blr:{NUMBER}"
)
SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12, "Q": 10**15}


def logged_step(number: str, suffix: str, last: int, log_freq: int | None) -> int:
    """The exact step of a metrics line from its rounded `step:` field: the next multiple of
    `log_freq` after `last` when it rounds to the same figure, else the figure itself."""
    unit = SUFFIX[suffix]
    value = float(number) * unit
    if unit == 1:
        return int(value)
    if log_freq:
        candidate = (last // log_freq + 1) * log_freq
        if abs(candidate - value) <= unit / 2:
            return candidate
    return int(value)


@dataclass
class TrainProgress:
    """What is known about the run so far. `step` counts from the run's start (resume included)."""

    total: int
    start_step: int = 0
    log_freq: int | None = None  # LeRobot's log_freq: resolves the rounded step of a log line
    step: int = 0
    loss: float | None = None
    grad_norm: float | None = None
    lr: float | None = None
    started: float = field(default_factory=time.monotonic)
    first_seen: tuple[int, float] | None = None  # (step, time) of the first counted step
    last_logged: int | None = None  # the step of the last metrics line

    def _advance(self, step: int, now: float) -> bool:
        if step == self.step:
            return False
        self.step = step
        if self.first_seen is None:
            self.first_seen = (step, now)
        return True

    def feed(self, line: str, now: float | None = None) -> bool:
        """Update from one line of output; True when something changed."""
        now = time.monotonic() if now is None else now
        changed = False
        for m in TQDM.finditer(line):
            changed |= self._advance(self.start_step + int(m.group(1)), now)
        m = METRICS.search(line)
        if m:
            number, suffix, loss, grad_norm, lr = m.groups()
            last = self.start_step if self.last_logged is None else self.last_logged
            self.last_logged = logged_step(number, suffix, last, self.log_freq)
            if self.last_logged > self.step:  # without tqdm (SLURM) the log line moves the bar
                self._advance(self.last_logged, now)
            self.loss, self.grad_norm, self.lr = float(loss), float(grad_norm), float(lr)
            changed = True
        return changed

    def seconds_left(self, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        if self.first_seen is None or self.step <= self.first_seen[0]:
            return None
        s0, t0 = self.first_seen
        rate = (self.step - s0) / max(now - t0, 1e-9)
        return (self.total - self.step) / rate

    def line(self, width: int = 24, now: float | None = None) -> str:
        frac = min(1.0, self.step / self.total) if self.total else 0.0
        filled = int(frac * width)
        bar = "#" * filled + "-" * (width - filled)
        parts = [f"[{bar}] step {self.step}/{self.total}"]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4g}")
        if self.grad_norm is not None:
            parts.append(f"grad {self.grad_norm:.3g}")
        if self.lr is not None:
            parts.append(f"lr {self.lr:.1e}")
        left = self.seconds_left(now)
        parts.append(f"left {format_seconds(left)}" if left is not None else "left ?")
        return "  ".join(parts)


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def split_output(buffer: str) -> tuple[list[str], str]:
    """Complete lines (split at \\n and tqdm's \\r) and the unfinished rest."""
    parts = re.split(r"\r\n|\r|\n", buffer)
    return parts[:-1], parts[-1]


class ProgressDisplay:
    """Shows TrainProgress: one line rewritten in place on a terminal, else a line per update
    of the metrics (each LeRobot log line) so logs stay readable."""

    def __init__(
        self, progress: TrainProgress, write: Callable[[str], None], interactive: bool
    ) -> None:
        self.progress = progress
        self.write = write
        self.interactive = interactive
        self._last = 0.0
        self._last_metrics: tuple | None = None

    def update(self, force: bool = False) -> None:
        p = self.progress
        if self.interactive:
            now = time.monotonic()
            if force or now - self._last > 0.25:
                self._last = now
                self.write("\r" + p.line() + "\033[K")
        else:
            metrics = (p.loss, p.grad_norm, p.lr)
            if force or (p.loss is not None and metrics != self._last_metrics):
                self._last_metrics = metrics
                self.write(p.line() + "\n")

    def close(self) -> None:
        self.update(force=True)
        if self.interactive:
            self.write("\n")
