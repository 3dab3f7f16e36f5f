"""Servo counts <-> LeRobot joint units, vectorised over the six joints.

The formulas are LeRobot's (`MotorsBus._normalize` / `_unnormalize`, lerobot 0.6.1):

- DEGREES (body joints):   (raw - (min + max) / 2) * 360 / 4095   (not clamped, drive_mode unused)
  back:                    int(deg * 4095 / 360 + mid)             (int() truncates toward zero)
- RANGE_M100_100 (body):   (clip(raw) - min) / (max - min) * 200 - 100, negated with drive_mode
  back:                    int((clip(+-v, -100, 100) + 100) / 200 * (max - min) + min)
- gripper, RANGE_0_100:    (clip(raw) - min) / (max - min) * 100, 100 - x with drive_mode
  back:                    int(clip(100 - v if drive_mode else v, 0, 100) / 100 * (max - min) + min)

All buffers are allocated once; `to_units` and `to_counts` allocate nothing per call.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from act_tool.hw.so101.calibration import ArmCalibration
from act_tool.hw.so101.joints import JOINTS, Joint

MAX_RES = 4095  # STS3215 resolution - 1, as LeRobot uses it


class Units(StrEnum):
    """Units of the five body joints; the gripper is always 0..100."""

    DEGREES = "degrees"
    RANGE_M100_100 = "range_m100_100"

    @classmethod
    def parse(cls, text: str | Units) -> Units:
        try:
            return cls(text)
        except ValueError:
            choices = ", ".join(u.value for u in cls)
            raise ValueError(f"unknown units '{text}': choose one of {choices}") from None


class UnitConverter:
    """Converts between raw Present/Goal_Position counts and joint units for one calibration.

    Each mode's formula is evaluated in LeRobot's operation order (so float64 results are
    bit-identical) over all six joints, and the joint's own mode is selected with a mask.
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
        self._rng = body & (self.units is Units.RANGE_M100_100)
        self._pct = gripper
        self._negate = self._rng & drive  # RANGE_M100_100 with drive_mode: -x
        self._mirror = self._pct & drive  # RANGE_0_100 with drive_mode: 100 - x
        # the masks as factors and offsets (exact in floating point: ufuncs with where= or
        # np.clip allocate temporaries a call, these do not)
        self._sign = np.where(self._negate, -1.0, 1.0)  # x * sign: -x where negated
        self._mirror_sign = np.where(self._mirror, -1.0, 1.0)
        self._mirror_add = np.where(self._mirror, 100.0, 0.0)  # x * sign + add: 100 - x
        # The calibrated range in units: goals are clamped to it before conversion.
        self.unit_min = np.where(self._deg, (self.range_min - self.mid) * 360 / MAX_RES, 0.0)
        self.unit_max = np.where(self._deg, (self.range_max - self.mid) * 360 / MAX_RES, 100.0)
        self.unit_min[self._rng] = -100.0
        self.unit_max[self._rng] = 100.0
        self._a = np.empty(n, dtype=np.float64)
        self._b = np.empty(n, dtype=np.float64)
        self._c = np.empty(n, dtype=np.float64)

    def to_units(self, counts: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Present_Position counts [6] -> units, written into `out` (float32 or float64 [6])."""
        a, b, c = self._a, self._b, self._c
        np.copyto(a, counts, casting="unsafe")
        # degrees: (val - mid) * 360 / max_res, unclamped
        np.subtract(a, self.mid, out=c)
        np.multiply(c, 360, out=c)
        np.divide(c, MAX_RES, out=c)
        # ranges: (clip(val) - min) / (max - min) * 200 - 100, or * 100
        np.maximum(a, self.range_min, out=b)  # clip
        np.minimum(b, self.range_max, out=b)
        np.subtract(b, self.range_min, out=b)
        np.divide(b, self.span, out=b)
        np.multiply(b, 200, out=a)
        np.subtract(a, 100, out=a)
        np.multiply(a, self._sign, out=a)
        np.multiply(b, 100, out=b)
        np.multiply(b, self._mirror_sign, out=b)
        np.add(b, self._mirror_add, out=b)
        np.copyto(a, b, where=self._pct)
        np.copyto(a, c, where=self._deg)
        np.copyto(out, a, casting="same_kind")
        return out

    def to_counts(self, values: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Units [6] -> Goal_Position counts, written into `out` (integer [6]).

        LeRobot's _unnormalize, then the counts are clamped to [range_min, range_max]
        (LeRobot does not clamp degrees; this layer never sends a goal outside the range).
        """
        a, b, c = self._a, self._b, self._c
        np.copyto(a, values, casting="unsafe")
        # degrees: val * max_res / 360 + mid
        np.multiply(a, MAX_RES, out=c)
        np.divide(c, 360, out=c)
        np.add(c, self.mid, out=c)
        # range -100..100: (clip(+-val, -100, 100) + 100) / 200 * (max - min) + min
        np.multiply(a, self._sign, out=b)
        np.maximum(b, -100.0, out=b)  # clip
        np.minimum(b, 100.0, out=b)
        np.add(b, 100, out=b)
        np.divide(b, 200, out=b)
        # range 0..100: clip(val or 100 - val, 0, 100) / 100 * (max - min) + min
        np.multiply(a, self._mirror_sign, out=a)
        np.add(a, self._mirror_add, out=a)
        np.maximum(a, 0.0, out=a)  # clip
        np.minimum(a, 100.0, out=a)
        np.divide(a, 100, out=a)
        np.copyto(a, b, where=self._rng)
        np.multiply(a, self.span, out=a)
        np.add(a, self.range_min, out=a)
        np.copyto(a, c, where=self._deg)
        np.trunc(a, out=a)
        np.maximum(a, self.range_min, out=a)  # clip
        np.minimum(a, self.range_max, out=a)
        np.copyto(out, a, casting="unsafe")
        return out

    def clamp_units(self, values: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Clamp unit values to the calibrated range (degrees) or the unit range."""
        np.maximum(values, self.unit_min, out=out)
        return np.minimum(out, self.unit_max, out=out)
