"""A progress bar for LeRobot training, fed by the training process's output.

LeRobot prints two things we read: its tqdm counter (`Training: ...| 37/500 [...`, written with
carriage returns) for the exact step, and every `log_freq` steps a MetricsTracker line
(`step:1K smpl:8K ep:40 epch:1.2 loss:0.312 grdn:12.5 lr:1.0e-05 ...`) for loss, gradient norm
and learning rate. Both are LeRobot's own stable output formats; nothing here touches LeRobot's
internals, which is why training runs in a subprocess (see `runner.py`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TQDM = re.compile(r"Training:\s*\d+%\|[^|]*\|\s*(\d+)/(\d+)")
NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
METRICS = re.compile(rf"\bstep:\S+ .*?\bloss:{NUMBER}\b.*?\bgrdn:{NUMBER}.*?\blr:{NUMBER}")


@dataclass
class TrainProgress:
    """What is known about the run so far. `step` counts from the run's start (resume included)."""

    total: int
    start_step: int = 0
    step: int = 0
    loss: float | None = None
    grad_norm: float | None = None
    lr: float | None = None
    started: float = field(default_factory=time.monotonic)
    first_seen: tuple[int, float] | None = None  # (step, time) of the first counted step

    def feed(self, line: str, now: float | None = None) -> bool:
        """Update from one line of output; True when something changed."""
        now = time.monotonic() if now is None else now
        changed = False
        for m in TQDM.finditer(line):
            step = self.start_step + int(m.group(1))
            if step != self.step:
                self.step = step
                changed = True
                if self.first_seen is None:
                    self.first_seen = (step, now)
        m = METRICS.search(line)
        if m:
            self.loss, self.grad_norm, self.lr = (float(g) for g in m.groups())
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
