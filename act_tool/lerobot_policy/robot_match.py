"""Does a LeRobot robot match an artifact? Checked from the robot's declared features, before
LeRobot connects it (connecting an SO-101 enables its torque): the joints the robot reports, in
its order, must be the artifact's state and action names (act_tool.runtime.preflight's joint
check), and each camera the artifact reads must be there, at the artifact's size.

    check_robot_features(spec, robot.observation_features, rename_map)

and the robot's joint units must be the artifact's. `observation_features` is LeRobot's: joint keys (`shoulder_pan.pos`) map to `float`, camera
names to (height, width, channels). No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from act_tool.runtime.preflight import PreflightError, check_joints, joint_key
from act_tool.spec import EngineSpec

IMAGES = "observation.images."


def check_robot_features(
    spec: EngineSpec,
    features: Mapping[str, Any],
    rename_map: Mapping[str, str] | None = None,
    units: str | None = None,
) -> None:
    """`units`: the robot's joint units ("degrees", "range"), where its config says (None: not
    checked)."""
    rename_map = rename_map or {}
    if units is not None and units != spec.units:
        flag = "true" if spec.units == "degrees" else "false"
        raise PreflightError(
            f"the robot reports its joints in {units!r}, the artifact was trained in "
            f"{spec.units!r}: every goal would be wrong. Pass --robot.use_degrees={flag}."
        )
    joints = [joint_key(k) for k, v in features.items() if v is float and k.endswith(".pos")]
    if len(joints) != len(spec.state_names):
        raise PreflightError(
            f"the robot reports {len(joints)} joints ({', '.join(joints) or 'none'}), the "
            f"artifact was exported for {len(spec.state_names)} "
            f"({', '.join(spec.state_names)}): wrong robot type or wrong artifact."
        )
    check_joints(spec, joints)
    cameras = {}
    for name, shape in features.items():
        if isinstance(shape, tuple):
            key = rename_map.get(IMAGES + name, IMAGES + name)
            cameras[key] = (name, shape)
    missing = [c for c in spec.cameras if c.key not in cameras]
    if missing:
        have = ", ".join(sorted(n for n, _ in cameras.values())) or "none"
        raise PreflightError(
            f"the artifact reads cameras {', '.join(c.name for c in spec.cameras)}; the robot "
            f'has {have}. Give the robot these cameras (--robot.cameras="{{'
            + ", ".join(f"{c.name}: {{..., width: {c.width}, height: {c.height}}}" for c in missing)
            + '}}"), or map its names with --rename_map.'
        )
    for cam in spec.cameras:
        name, shape = cameras[cam.key]
        if tuple(shape[:2]) != (cam.height, cam.width) or (len(shape) > 2 and shape[2] != 3):
            raise PreflightError(
                f"camera {name} is configured for {shape[1]}x{shape[0]} frames, the artifact was "
                f"exported for {cam.width}x{cam.height}: set width: {cam.width}, height: "
                f"{cam.height} in --robot.cameras, or export for this size."
            )
