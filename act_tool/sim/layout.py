"""Where the cube and the bowl stand in an episode: drawn from a seed, always within reach.

Positions are in the world frame (the arm's base at the origin, x forward, y left, table at
z = 0). The cube stands on one side of the arm's forward axis and the bowl on the other, both
where the hand reaches them pointing straight down, with at least `MIN_GAP` between the cube
and the bowl's rim. The same seed always gives the same layout (numpy's PCG64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from act_tool.sim.cell_model import BOWL_RIM_RADIUS, CUBE_SIZE

CUBE_RADIUS = (0.17, 0.25)  # m from the base's origin
CUBE_ANGLE = (math.radians(5.0), math.radians(45.0))  # off the forward axis, either side
BOWL_RADIUS = (0.17, 0.24)
BOWL_ANGLE = (math.radians(15.0), math.radians(50.0))
MIN_GAP = 0.04  # m between the cube's corner and the bowl's rim


@dataclass(frozen=True)
class CellLayout:
    """The cube's centre (x, y) and yaw (rad), the bowl's centre (x, y)."""

    cube_xy: tuple[float, float]
    cube_yaw: float
    bowl_xy: tuple[float, float]

    @staticmethod
    def sample(seed: int) -> CellLayout:
        """The layout of episode `seed` (any non-negative integer)."""
        rng = np.random.default_rng(seed)
        while True:  # rejection keeps the cube clear of the bowl; a few draws at most
            side = float(rng.choice((-1.0, 1.0)))
            r, a = rng.uniform(*CUBE_RADIUS), side * rng.uniform(*CUBE_ANGLE)
            br, ba = rng.uniform(*BOWL_RADIUS), -side * rng.uniform(*BOWL_ANGLE)
            layout = CellLayout(
                cube_xy=(r * math.cos(a), r * math.sin(a)),
                cube_yaw=float(rng.uniform(-math.pi / 4, math.pi / 4)),
                bowl_xy=(br * math.cos(ba), br * math.sin(ba)),
            )
            if layout.clearance() >= MIN_GAP:
                return layout

    def clearance(self) -> float:
        """Distance from the cube's farthest corner to the bowl's rim, m."""
        gap = math.dist(self.cube_xy, self.bowl_xy)
        return gap - BOWL_RIM_RADIUS - CUBE_SIZE * math.sqrt(0.5)
