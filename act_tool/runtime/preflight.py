"""Checks before the first motion: the cameras, the arm and its state fit the policy's spec.

A policy fed another arm's joints, other units or other camera sizes produces confident nonsense;
these checks refuse to start and say why. `force` overrides the state-range check only: a start
pose outside the training range can be deliberate, but a joint-name mismatch means every goal
would go to another joint than the one it was trained for, which no start pose makes right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from act_tool.errors import ActToolError
from act_tool.hw.camera_sources import source_placeholder
from act_tool.robot_types import Units
from act_tool.spec import EngineSpec

DEFAULT_MARGIN = 0.10  # of the training range, on each side


class PreflightError(ActToolError):
    """The robot does not match the policy: nothing has moved."""


def check_cameras(spec: EngineSpec, frames: Mapping[str, np.ndarray]) -> None:
    """`frames`: camera name -> a frame the camera actually delivered (uint8 H x W x 3)."""
    wanted = [c.name for c in spec.cameras]
    if sorted(frames) != sorted(wanted):
        raise PreflightError(
            f"the policy was trained with cameras {', '.join(wanted)}, but got "
            f"{', '.join(frames) or 'none'}. Pass them all: --cameras "
            + ",".join(f"{n}={source_placeholder()}" for n in wanted)
        )
    for cam in spec.cameras:
        frame = frames[cam.name]
        shape = tuple(frame.shape)
        if len(shape) != 3 or shape[2] != 3 or frame.dtype != np.uint8:
            raise PreflightError(
                f"camera {cam.name} delivers {frame.dtype} frames of shape {shape}; the policy "
                f"needs uint8 colour frames of {cam.height}x{cam.width}x3."
            )
        if shape != (cam.height, cam.width, 3):
            raise PreflightError(
                f"camera {cam.name} delivers {shape[1]}x{shape[0]} frames, the policy was "
                f"trained on {cam.width}x{cam.height}. Set the camera to that size, or re-export "
                "the policy for this size."
            )


def check_units(spec: EngineSpec, arm_units: Any) -> None:
    if Units.parse(arm_units) is not Units.parse(spec.units):
        raise PreflightError(
            f"the policy was trained with joints in {spec.units!r} but the arm reports "
            f"{arm_units!s}. Drive the arm in the policy's units."
        )


def widen(lo: Sequence[float], hi: Sequence[float], margin: float) -> tuple[np.ndarray, np.ndarray]:
    """A range widened by `margin` of its span on each side (at least 1 unit)."""
    lo_a, hi_a = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    pad = np.maximum((hi_a - lo_a) * margin, 1.0)
    return lo_a - pad, hi_a + pad


def state_bounds(spec: EngineSpec, margin: float = DEFAULT_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """The state's training range widened by `margin` (what the start pose is checked against)."""
    return widen(spec.state_min, spec.state_max, margin)


def action_bounds(
    spec: EngineSpec, margin: float = DEFAULT_MARGIN
) -> tuple[np.ndarray, np.ndarray] | None:
    """The action's training range widened by `margin` (what goals are clamped to), or None for a
    spec without one (format 1). Not the state's range: a gripper's commanded goal goes past the
    position it reaches when it closes on an object, and clamping it to the state range would
    weaken the grip."""
    if not spec.action_min:
        return None
    return widen(spec.action_min, spec.action_max, margin)


def joint_key(name: str) -> str:
    """`shoulder_pan.pos` and `shoulder_pan` name the same joint."""
    return name.removesuffix(".pos")


def check_joints(spec: EngineSpec, joint_names: Sequence[str]) -> None:
    """The policy's state and action names are the arm's joints (`<joint>.pos`), in its order."""
    arm = [f"{j}.pos" for j in joint_names]
    arm_keys = [joint_key(n) for n in arm]
    for what, names in (("state", spec.state_names), ("action", spec.action_names)):
        keys = [joint_key(n) for n in names]
        if keys == arm_keys:
            continue
        same_joints = sorted(keys) == sorted(arm_keys)
        why = (
            "the same joints in another order: each joint would get another joint's values"
            if same_joints
            else "the policy was trained for another arm (or other joint names)"
        )
        raise PreflightError(
            f"the policy's {what} joints are [{', '.join(names)}], the arm's are "
            f"[{', '.join(arm)}]: {why}. Refusing to start (--force does not override this). "
            "Use a policy trained on this arm; if these really are the same joints in the same "
            f"order under other names, correct {what}_names in the spec JSON beside the artifact."
        )


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
    check_joints(spec, joint_names)
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
