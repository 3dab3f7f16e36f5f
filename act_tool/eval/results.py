"""What an evaluation measures, per episode and per backend, in the form users report it: episode
success rate, grasp success (successful grasps / attempts), interventions, with 95 % confidence
intervals (Wilson score: sensible for small counts and rates near 0 or 1)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

Z95 = 1.959963984540054  # the normal quantile of 97.5 %


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion; (0, 1) without trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class EpisodeResult:
    seed: int
    success: bool | None  # None: unknown (no verdict)
    ticks: int
    duration_s: float  # episode time (the twin's, or the wall clock's on an arm)
    wall_s: float  # how long the episode took to run
    sim_wall_s: float = 0.0  # of which the twin (physics, renders, the bus handing over)
    grasp_attempts: int = 0
    successful_grasps: int = 0
    steps_to_success: int | None = None  # the first tick the task was done
    openings_before_grasps: list[float] = field(default_factory=list)  # gripper 0..100
    opening_gaps_mm: list[float] = field(default_factory=list)  # the pad gap at those openings
    grasp_ticks: list[int] = field(default_factory=list)  # the tick each attempt began
    interventions: int = 0
    stop_reason: str = ""
    inferences: int = 0
    trajectory: list[list[float]] = field(default_factory=list, repr=False)  # joints per tick
    video: str | None = None

    def to_dict(self, with_trajectory: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_trajectory:
            data.pop("trajectory")
        return data


@dataclass
class BackendSummary:
    """One backend's episodes, summed up."""

    name: str
    episodes: list[EpisodeResult]

    @property
    def judged(self) -> list[EpisodeResult]:
        return [e for e in self.episodes if e.success is not None]

    def success_rate(self) -> tuple[int, int, float, float]:
        """(successes, judged episodes, CI low, CI high)."""
        judged = self.judged
        wins = sum(bool(e.success) for e in judged)
        return (wins, len(judged), *wilson(wins, len(judged)))

    def grasp_rate(self) -> tuple[int, int, float, float]:
        grasps = sum(e.successful_grasps for e in self.episodes)
        attempts = sum(e.grasp_attempts for e in self.episodes)
        return (grasps, attempts, *wilson(grasps, attempts))

    def to_dict(self) -> dict[str, Any]:
        wins, judged, lo, hi = self.success_rate()
        grasps, attempts, glo, ghi = self.grasp_rate()
        steps = [e.steps_to_success for e in self.episodes if e.steps_to_success is not None]
        n = len(self.episodes)
        return {
            "backend": self.name,
            "episodes": n,
            "success": {
                "count": wins,
                "judged": judged,
                "rate": wins / judged if judged else None,
                "ci95": [lo, hi],
            },  # fmt: skip
            "grasp": {
                "successful": grasps,
                "attempts": attempts,
                "rate": grasps / attempts if attempts else None,
                "ci95": [glo, ghi],
            },  # fmt: skip
            "attempts_per_episode": attempts / n if n else None,
            "interventions_per_episode": sum(e.interventions for e in self.episodes) / n
            if n
            else None,
            "mean_steps_to_success": sum(steps) / len(steps) if steps else None,
            "mean_episode_wall_s": sum(e.wall_s for e in self.episodes) / n if n else None,
        }


def percent(count: int, total: int, lo: float, hi: float) -> str:
    if not total:
        return "-"
    return f"{count}/{total} = {100 * count / total:.0f} % [{100 * lo:.0f}, {100 * hi:.0f}]"


def table(summaries: list[BackendSummary]) -> str:
    """The backends side by side: success, grasps, attempts, time; 95 % intervals in brackets."""
    head = ("backend", "episode success", "grasp success", "attempts/ep", "steps to success",
            "wall s/ep")  # fmt: skip
    rows = [head]
    for s in summaries:
        d = s.to_dict()
        rows.append(
            (
                s.name,
                percent(*s.success_rate()),
                percent(*s.grasp_rate()),
                f"{d['attempts_per_episode']:.2f}"
                if d["attempts_per_episode"] is not None
                else "-",
                f"{d['mean_steps_to_success']:.0f}" if d["mean_steps_to_success"] else "-",
                f"{d['mean_episode_wall_s']:.1f}" if d["mean_episode_wall_s"] is not None else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
