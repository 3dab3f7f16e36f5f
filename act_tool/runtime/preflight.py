"""Checks before the first motion: the cameras, the arm and its state fit the policy's spec.

A policy fed another arm's joints, other units or other camera sizes produces confident nonsense;
these checks refuse to start and say why. `force` overrides the state-range check only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from act_tool.errors import ActToolError
from act_tool.spec import EngineSpec

DEFAULT_MARGIN = 0.10  # of the training range, on each side
SPEC_TO_ARM_UNITS = {"degrees": "degrees", "range": "range_m100_100"}


class PreflightError(ActToolError):
    """The robot does not match the policy: nothing has moved."""


def check_cameras(spec: EngineSpec, shapes: Mapping[str, tuple[int, ...]]) -> None:
    """`shapes`: camera name -> frame shape (H, W, 3) the camera delivers."""
    wanted = [c.name for c in spec.cameras]
    if sorted(shapes) != sorted(wanted):
        raise PreflightError(
            f"the policy was trained with cameras {', '.join(wanted)}, but got "
            f"{', '.join(shapes) or 'none'}. Pass them all: --cameras "
            + ",".join(f"{n}=<index|path|file|synthetic>" for n in wanted)
        )
    for cam in spec.cameras:
        shape = tuple(shapes[cam.name])
        if shape != (cam.height, cam.width, 3):
            raise PreflightError(
                f"camera {cam.name} delivers {shape[1]}x{shape[0]} frames, the policy was "
                f"trained on {cam.width}x{cam.height}. Set the camera to that size, or re-export "
                "the policy for this size."
            )


def check_units(spec: EngineSpec, arm_units: Any) -> None:
    expected = SPEC_TO_ARM_UNITS[spec.units]
    if str(getattr(arm_units, "value", arm_units)) != expected:
        raise PreflightError(
            f"the policy was trained with joints in {spec.units!r} but the arm reports "
            f"{arm_units!s}. Drive the arm in the policy's units."
        )


def state_bounds(spec: EngineSpec, margin: float = DEFAULT_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """The training range widened by `margin` of its span on each side (at least 1 unit)."""
    lo = np.asarray(spec.state_min, dtype=np.float64)
    hi = np.asarray(spec.state_max, dtype=np.float64)
    pad = np.maximum((hi - lo) * margin, 1.0)
    return lo - pad, hi + pad


def check_state(
    spec: EngineSpec,
    state: np.ndarray,
    joint_names: Sequence[str],
    margin: float = DEFAULT_MARGIN,
    force: bool = False,
) -> list[str]:
    """Shape always; range unless `force` (then the problems are returned as warnings)."""
    n = len(spec.state_names)
    if state.shape != (n,):
        raise PreflightError(
            f"the arm has {state.shape[0]} joints ({', '.join(joint_names)}), the policy expects "
            f"a state of {n} ({', '.join(spec.state_names)}): wrong arm or wrong policy."
        )
    if len(spec.action_names) != n:
        raise PreflightError(
            f"the policy outputs {len(spec.action_names)} actions for {n} joints: this runtime "
            "drives the joints it reads; export a policy whose action is the joint goals."
        )
    if not np.isfinite(state).all():
        raise PreflightError(f"the arm reports non-finite positions {state.tolist()}")
    lo, hi = state_bounds(spec, margin)
    bad = [
        f"{name}={state[i]:.1f} (trained on {spec.state_min[i]:.1f}..{spec.state_max[i]:.1f})"
        for i, name in enumerate(spec.state_names)
        if not lo[i] <= state[i] <= hi[i]
    ]
    if bad and not force:
        raise PreflightError(
            f"the arm's state lies outside the policy's training range (margin {margin:.0%}): "
            + "; ".join(bad)
            + f". Usual causes: wrong units (the policy uses {spec.units!r}), a different "
            "calibration, or the wrong arm. Move the arm into its working range, or pass --force."
        )
    return bad
