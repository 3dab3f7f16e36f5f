"""EngineSpec builders for tests and benchmarks: a valid spec with every field plausible, and
whatever a test needs changed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from act_tool.robot_types import SO101_FOLLOWER
from act_tool.spec import CameraSpec, EngineSpec


def make_spec(
    *,
    cameras: tuple[tuple[str, int, int], ...] = (("front", 4, 6),),
    channel_order: str = "bgr",
    names: tuple[str, ...] = SO101_FOLLOWER.keys,
    chunk: int = 5,
    state_range: tuple[float, float] = (-10.0, 10.0),
    action_range: tuple[float, float] | None = (-10.0, 30.0),
    **changes: Any,
) -> EngineSpec:
    """A spec of `cameras` (name, height, width), state and action `names`, chunks of `chunk`
    actions executed whole, the state trained on `state_range` and the action on
    `action_range` (None: no action range, as format 1), for an SO-101 follower; `changes`
    replace any other field."""
    n = len(names)
    spec = EngineSpec(
        artifact="act.onnx",
        cameras=tuple(
            CameraSpec(f"observation.images.{c}", h, w, channel_order) for c, h, w in cameras
        ),
        state_names=names,
        action_names=names,
        units="degrees",
        fps=30,
        chunk_size=chunk,
        n_action_steps=chunk,
        temporal_ensemble_coeff=None,
        state_min=(state_range[0],) * n,
        state_max=(state_range[1],) * n,
        action_min=(action_range[0],) * n if action_range else (),
        action_max=(action_range[1],) * n if action_range else (),
        robot_type=SO101_FOLLOWER.name,
    )
    return replace(spec, **changes)
