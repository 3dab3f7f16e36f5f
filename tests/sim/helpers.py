"""Helpers shared by the twin's tests."""

from __future__ import annotations

import numpy as np

NO_SIM = "the `sim` extra (MuJoCo) is not installed: pip install -e '.[sim]'"


def run_goals(twin, goals, fps: int = 30, monitor=None) -> np.ndarray:
    """Drives the twin through `goals` in lockstep; returns the joint positions after each tick."""
    positions = np.empty((len(goals), 6))
    for k, goal in enumerate(goals):
        twin.set_goals(goal)
        twin.step(1.0 / fps)
        twin.joint_positions(positions[k])
        if monitor is not None:
            monitor.update(twin.cell_state())
    return positions
