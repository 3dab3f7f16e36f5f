"""The control loop's setup: the checks before any motion, the action clamp, the warm-up."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from act_tool.runtime import preflight
from act_tool.runtime.executor import make_executor
from act_tool.runtime.interfaces import Arm, Cameras
from act_tool.runtime.loop_config import LoopConfig
from act_tool.runtime.runners.base import Runner
from act_tool.runtime.scheduling import AsyncScheduler, SyncScheduler

Scheduler = SyncScheduler | AsyncScheduler


def preflight_state(
    runner: Runner, arm: Arm, cameras: Cameras, config: LoopConfig, log: Callable[[str], None]
) -> np.ndarray:
    """The checks before any motion; returns the state read for them."""
    spec = runner.spec
    # The frames the cameras actually deliver, not the sizes that were asked of them.
    preflight.check_cameras(spec, {n: frame for n, (frame, _) in cameras.latest().items()})
    preflight.check_units(spec, arm.units)
    state = np.zeros(len(arm.joint_names), dtype=np.float32)
    arm.read_positions(state)
    warnings = preflight.check_state(
        spec, state, arm.joint_names, config.range_margin, config.force
    )
    for w in warnings:
        log(f"warning (--force): outside the training range: {w}")
    return state


def action_limit(
    runner: Runner, config: LoopConfig, log: Callable[[str], None]
) -> Callable[[np.ndarray], None] | None:
    """The clamp to the action's widened training range, or None (no range, or turned off)."""
    bounds = preflight.action_bounds(runner.spec, config.range_margin)
    if not config.clamp_to_training_range:
        log("note: --no-range-clamp: goals are limited by the arm's calibrated range only")
        return None
    if bounds is None:
        log(
            "note: this spec has no action range (exported by an older act-tool): goals are "
            "limited by the arm's calibrated range only. Export again to clamp them to the "
            "training range."
        )
        return None
    lo, hi = (b.astype(np.float32).tolist() for b in bounds)
    joints = tuple(zip(range(len(lo)), lo, hi, strict=True))

    def limit(action: np.ndarray) -> None:
        """On plain numbers (a numpy call costs as much at a tick's start); NaN passes, and the
        arm refuses it."""
        for j, low, high in joints:
            v = action[j]
            if v < low:
                action[j] = low
            elif v > high:
                action[j] = high

    return limit


def warm_up(runner: Runner, config: LoopConfig) -> tuple[Scheduler, float]:
    """Inference on the observation in the runner's inputs (first-run costs, and the latency
    async mode plans with), then the scheduler for the configured mode. Returns (scheduler,
    latency in s)."""
    latency = 0.0
    for _ in range(max(1, config.warmup)):
        t = time.perf_counter()
        runner.infer()
        latency = time.perf_counter() - t
    runner.reset()  # a runner with state between calls starts the run afresh
    spec = runner.spec
    assert config.fps is not None and config.n_action_steps is not None  # resolved
    if config.asynchronous:
        period = 1.0 / config.fps
        lead = config.lead_ticks if config.lead_ticks is not None else math.ceil(latency / period)
        return AsyncScheduler(runner, config.n_action_steps, lead), latency
    executor = make_executor(
        spec.chunk_size,
        len(spec.action_names),
        config.n_action_steps,
        config.temporal_ensemble_coeff,
    )
    return SyncScheduler(runner, executor), latency
