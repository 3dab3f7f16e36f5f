"""The pick-and-place cell around the arm: table, red cube, gray bowl, lights and the front camera.

Built for what a small policy sees at 96x128: a saturated red cube, a mid-gray bowl with a
darker floor on a light wooden table, a pale wall behind the arm, flat lighting without
shadows (in software GL a shadow pass at MuJoCo's default map size costs many times the frame).

Contacts: the arm's geoms (contype 2, conaffinity 1) touch the cell's (contype 1,
conaffinity 3) but not each other. The cube is a 3 cm, 20 g box; the jaw pads (see
`arm_model`) have friction 1.2 with torsional friction (condim 4), the solver uses elliptic
friction cones with impratio 10 so that a squeezed cube does not creep out while carried.
"""

from __future__ import annotations

import math

import numpy as np

from act_tool.sim.arm_model import arm_actuators, arm_body, arm_defaults

CUBE_SIZE = 0.03  # m, edge
CUBE_MASS = 0.02  # kg
BOWL_RIM_RADIUS = 0.06  # outer radius at the rim
BOWL_FLOOR_RADIUS = 0.045
BOWL_HEIGHT = 0.04
BOWL_WALLS = 16
TABLE_RGBA = "0.80 0.68 0.52 1"
CUBE_RGBA = "0.90 0.06 0.05 1"
BOWL_RGBA = "0.50 0.50 0.52 1"
BOWL_FLOOR_RGBA = "0.36 0.36 0.38 1"
# The front camera: in front of the arm, looking back at the workspace.
FRONT_EYE = (0.42, 0.0, 0.38)
FRONT_TARGET = (0.12, 0.0, 0.05)
FRONT_FOVY = 56.0
# The wrist camera's pose is Menagerie's SO-101 camera mount; 62 degrees vertical is its 77
# degrees horizontal field of view on a 4:3 frame.
HANDEYE_FOVY = 62.0


def _quat_zy(yaw: float, tilt: float) -> str:
    """Quaternion (w x y z) of a rotation about z by `yaw` after one about y by `tilt`."""
    cz, sz = math.cos(yaw / 2), math.sin(yaw / 2)
    cy, sy = math.cos(tilt / 2), math.sin(tilt / 2)
    w, x, y, z = cz * cy, -sz * sy, cz * sy, sz * cy
    return f"{w:.6f} {x:.6f} {y:.6f} {z:.6f}"


def bowl_geoms() -> str:
    """A flat floor and a ring of tilted slabs: a bowl of primitives."""
    floor_h = 0.002
    run = BOWL_RIM_RADIUS - BOWL_FLOOR_RADIUS
    rise = BOWL_HEIGHT - 2 * floor_h
    tilt = math.atan2(run, rise)
    r_mid = BOWL_FLOOR_RADIUS + run / 2
    half_len = math.hypot(run, rise) / 2
    half_width = r_mid * math.tan(math.pi / BOWL_WALLS) * 1.15
    lines = [
        f'<geom type="cylinder" pos="0 0 {floor_h}" size="{BOWL_FLOOR_RADIUS + 0.002} {floor_h}" '
        f'rgba="{BOWL_FLOOR_RGBA}"/>'
    ]
    for k in range(BOWL_WALLS):
        a = 2 * math.pi * k / BOWL_WALLS
        x, y, z = r_mid * math.cos(a), r_mid * math.sin(a), 2 * floor_h + rise / 2
        lines.append(
            f'<geom type="box" pos="{x:.5f} {y:.5f} {z:.5f}" size="0.0025 {half_width:.5f} '
            f'{half_len:.5f}" quat="{_quat_zy(a, tilt)}" rgba="{BOWL_RGBA}"/>'
        )
    return "\n      ".join(lines)


def _look_at(eye, target) -> str:
    """MJCF `xyaxes` of a camera at `eye` looking at `target` with z up."""
    f = np.subtract(target, eye, dtype=float)
    f /= np.linalg.norm(f)
    x = np.cross(f, (0.0, 0.0, 1.0))
    x /= np.linalg.norm(x)
    y = np.cross(x, f)
    return " ".join(f"{v:.6f}" for v in (*x, *y))


def cell_xml(timestep: float, max_height: int, max_width: int) -> str:
    """The whole scene as MJCF text; renders up to `max_height` x `max_width` pixels."""
    h = CUBE_SIZE / 2
    return f"""<mujoco model="so101_pick_place_cell">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{timestep}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <statistic extent="1" center="0.15 0 0.1"/>
  <visual>
    <global offwidth="{max_width}" offheight="{max_height}"/>
    <quality offsamples="0"/>
    <map znear="0.005" zfar="6"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.35 0.35 0.35" specular="0 0 0"/>
  </visual>
  <default>
    <default class="cell">
      <geom contype="1" conaffinity="3" condim="3" friction="0.6 0.005 0.0001"/>
    </default>
    {arm_defaults()}
  </default>
  <worldbody>
    <light name="top" directional="true" pos="0.2 0.3 1.2" dir="-0.15 -0.25 -1" diffuse="0.45 0.45 0.45" specular="0.1 0.1 0.1" castshadow="false"/>
    <geom name="table" class="cell" type="box" pos="0.3 0 -0.02" size="0.8 0.8 0.02" rgba="{TABLE_RGBA}"/>
    <geom name="wall" type="box" pos="-0.32 0 0.3" size="0.01 0.8 0.5" rgba="0.86 0.88 0.90 1" contype="0" conaffinity="0"/>
    <camera name="front" pos="{" ".join(map(str, FRONT_EYE))}" xyaxes="{_look_at(FRONT_EYE, FRONT_TARGET)}" fovy="{FRONT_FOVY}"/>
    {arm_body(HANDEYE_FOVY)}
    <body name="cube" pos="0.2 0 {h}">
      <freejoint name="cube"/>
      <geom name="cube" class="cell" type="box" size="{h} {h} {h}" mass="{CUBE_MASS}" condim="4" friction="0.8 0.01 0.0002" rgba="{CUBE_RGBA}"/>
    </body>
    <body name="bowl" mocap="true" pos="0.2 -0.15 0">
      {bowl_geoms().replace("<geom ", '<geom class="cell" ')}
    </body>
  </worldbody>
  <actuator>
    {arm_actuators()}
  </actuator>
</mujoco>
"""
