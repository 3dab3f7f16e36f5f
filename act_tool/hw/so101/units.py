"""Servo counts <-> LeRobot joint units for the six joints.

The formulas are LeRobot's (`MotorsBus._normalize` / `_unnormalize`, lerobot 0.6.1):

- DEGREES (body joints):   (raw - (min + max) / 2) * 360 / 4095   (not clamped, drive_mode unused)
  back:                    int(deg * 4095 / 360 + mid)             (int() truncates toward zero)
- RANGE (body, LeRobot's RANGE_M100_100):   (clip(raw) - min) / (max - min) * 200 - 100, negated with drive_mode
  back:                    int((clip(+-v, -100, 100) + 100) / 200 * (max - min) + min)
- gripper, RANGE_0_100:    (clip(raw) - min) / (max - min) * 100, 100 - x with drive_mode
  back:                    int(clip(100 - v if drive_mode else v, 0, 100) / 100 * (max - min) + min)

Each call works joint by joint on plain Python floats (float64, LeRobot's operation order, so
results are bit-identical) and writes into the caller's array or list: nothing is kept per call.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence

import numpy as np

from act_tool.hw.so101.calibration import ArmCalibration
from act_tool.hw.so101.joints import JOINTS, Joint
from act_tool.robot_types import Units

MAX_RES = 4095  # STS3215 resolution - 1, as LeRobot uses it
_DEG, _RNG, _PCT = 0, 1, 2  # a joint's mode: degrees, -100..100, 0..100 (gripper)


class UnitConverter:
    """Converts between raw Present/Goal_Position counts and joint units for one calibration.

    Each joint's formula is evaluated in LeRobot's operation order, so float64 results are
    bit-identical to LeRobot's (tests/hw/test_units.py checks it against LeRobot's own bus).
    """

    def __init__(self, calibration: ArmCalibration, units: Units | str) -> None:
        self.units = Units.parse(units)
        n = len(JOINTS)
        cal = calibration.joints
        self.range_min = np.array([c.range_min for c in cal], dtype=np.float64)
        self.range_max = np.array([c.range_max for c in cal], dtype=np.float64)
        self.span = self.range_max - self.range_min
        self.mid = (self.range_min + self.range_max) / 2
        drive = np.array([c.drive_mode for c in cal], dtype=bool)
        gripper = np.zeros(n, dtype=bool)
        gripper[JOINTS.index(Joint.GRIPPER)] = True
        body = ~gripper
        self._deg = body & (self.units is Units.DEGREES)
        self._rng = body & (self.units is Units.RANGE)
        self._pct = gripper
        self._negate = self._rng & drive  # RANGE with drive_mode: -x
        self._mirror = self._pct & drive  # RANGE_0_100 with drive_mode: 100 - x
        # The calibrated range in units: goals are clamped to it before conversion.
        self.unit_min = np.where(self._deg, (self.range_min - self.mid) * 360 / MAX_RES, 0.0)
        self.unit_max = np.where(self._deg, (self.range_max - self.mid) * 360 / MAX_RES, 100.0)
        self.unit_min[self._rng] = -100.0
        self.unit_max[self._rng] = 100.0
        # Per joint, as plain Python numbers: a tick converts six values, and numpy's cost per
        # call (a conversion took about 18 ufunc calls) outweighed the arithmetic itself.
        modes = [
            _DEG if d else _RNG if r else _PCT for d, r in zip(self._deg, self._rng, strict=True)
        ]
        # per joint: (mode, flipped by drive_mode, mid, range_min, range_max, span)
        self._joints = tuple(
            zip(
                modes,
                (bool(f) for f in self._negate | self._mirror),
                self.mid.tolist(),
                self.range_min.tolist(),
                self.range_max.tolist(),
                self.span.tolist(),
                strict=True,
            )
        )
        self._unit_bounds = tuple(zip(self.unit_min.tolist(), self.unit_max.tolist(), strict=True))

    def to_units(
        self, counts: Sequence[float], out: MutableSequence[float]
    ) -> MutableSequence[float]:
        """Present_Position counts [6] -> units, written into `out` (a float32 or float64 array,
        or a list). Each joint's formula in LeRobot's operation order, in float64."""
        for j, (m, flip, mid, lo, hi, span) in enumerate(self._joints):
            v = float(counts[j])
            if m == _DEG:  # (val - mid) * 360 / max_res, unclamped
                x = (v - mid) * 360 / MAX_RES
            else:
                if v < lo:
                    v = lo
                elif v > hi:
                    v = hi
                x = (v - lo) / span
                if m == _RNG:  # * 200 - 100, negated with drive_mode
                    x = x * 200 - 100
                    if flip:
                        x = -x
                else:  # gripper: * 100, 100 - x with drive_mode
                    x = x * 100
                    if flip:
                        x = 100.0 - x
            out[j] = x
        return out

    def to_counts(self, values: Sequence[float], out: MutableSequence[int]) -> MutableSequence[int]:
        """Units [6] -> Goal_Position counts, written into `out` (an integer array, or a list).

        LeRobot's _unnormalize, then the counts are clamped to [range_min, range_max]
        (LeRobot does not clamp degrees; this layer never sends a goal outside the range).
        Raises ValueError for NaN (callers refuse non-finite goals first).
        """
        for j, (m, flip, mid, lo, hi, span) in enumerate(self._joints):
            v = float(values[j])
            if m == _DEG:  # val * max_res / 360 + mid
                x = v * MAX_RES / 360 + mid
            elif m == _RNG:  # (clip(+-val, -100, 100) + 100) / 200 * (max - min) + min
                if flip:
                    v = -v
                if v < -100.0:
                    v = -100.0
                elif v > 100.0:
                    v = 100.0
                x = (v + 100) / 200 * span + lo
            else:  # gripper: clip(val or 100 - val, 0, 100) / 100 * (max - min) + min
                if flip:
                    v = 100.0 - v
                if v < 0.0:
                    v = 0.0
                elif v > 100.0:
                    v = 100.0
                x = v / 100 * span + lo
            # int() truncates toward zero like LeRobot's; clamping first is the same for the
            # range's integer bounds, and keeps an infinite value finite
            if x < lo:
                x = lo
            elif x > hi:
                x = hi
            out[j] = int(x)
        return out

    def clamp_units(
        self, values: Sequence[float], out: MutableSequence[float]
    ) -> MutableSequence[float]:
        """Clamp unit values to the calibrated range (degrees) or the unit range."""
        for j, (lo, hi) in enumerate(self._unit_bounds):
            v = float(values[j])
            if v < lo:
                v = lo
            elif v > hi:
                v = hi
            out[j] = v
        return out
