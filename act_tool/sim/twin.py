"""The digital twin: the SO-101 pick-and-place cell in MuJoCo, driven in LeRobot's joint units.

    with Twin() as twin:
        layout = twin.reset(seed=7)                  # cube and bowl placed for seed 7, arm at home
        frame = np.empty((96, 128, 3), np.uint8)
        for _ in range(300):
            twin.render("front", frame)              # BGR, like an OpenCV camera
            state = twin.joint_positions()           # degrees, gripper 0..100
            twin.set_goals(policy(frame, state))     # the servos' Goal_Position, same units
            twin.step(1 / 30)                        # physics advances exactly 1/30 s

Units: see `act_tool.sim.units`. Time: `step(seconds)` runs whole physics steps of
`TwinConfig.timestep`; the step count follows the total time asked for since `reset`, so 30
calls of 1/30 s run exactly 1 s of physics (500 steps of 2 ms, as 17, 17, 16, ...). For a seed
and a sequence of goals the trajectory is identical on every run (MuJoCo is deterministic on one
machine and build). Torque: `set_torque` switches servos' actuators off like Torque_Enable = 0;
the joints then move under gravity against the servo's friction and damping only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from act_tool.hw.so101.joints import JOINT_NAMES
from act_tool.sim.arm_model import FIXED_PAD_FACE_X, PAD_CENTER_Y, PAD_CENTER_Z
from act_tool.sim.cell_model import CUBE_SIZE, cell_xml
from act_tool.sim.detectors import CellState
from act_tool.sim.errors import SimError
from act_tool.sim.kinematics import ArmKinematics
from act_tool.sim.layout import CellLayout
from act_tool.sim.render import FrameRenderer, import_mujoco
from act_tool.sim.units import GRIPPER, GRIPPER_HI, GRIPPER_LO, from_radians, to_radians

CAMERAS = ("front", "handeye")
HOME_TOOL = (0.16, 0.0, 0.10)  # the grip centre at home, m (the hand as near vertical as it goes)
HOME_GRIPPER = 50.0
# Between the pads, where a held 3 cm cube's centre sits (gripper body frame, m).
GRIP_CENTER = (FIXED_PAD_FACE_X + CUBE_SIZE / 2, PAD_CENTER_Y, PAD_CENTER_Z)


@dataclass(frozen=True)
class TwinConfig:
    timestep: float = 0.002  # s per physics step
    max_height: int = 480  # the largest frame `render` can fill
    max_width: int = 640

    def __post_init__(self) -> None:
        if not 1e-4 <= self.timestep <= 0.01:
            raise SimError(f"timestep {self.timestep} s: choose 0.0001 .. 0.01 s")
        if self.max_height < 1 or self.max_width < 1:
            raise SimError("max_height and max_width must be positive")


@dataclass(frozen=True)
class Pose:
    position: np.ndarray  # (3,) m
    quaternion: np.ndarray  # (4,) w, x, y, z


class Twin:
    """The cell: physics, the arm's six position servos, cameras; see the module docstring."""

    def __init__(self, config: TwinConfig | None = None) -> None:
        mujoco = import_mujoco()
        self._mujoco = mujoco
        self.config = config or TwinConfig()
        cfg = self.config
        self.model = mujoco.MjModel.from_xml_string(
            cell_xml(cfg.timestep, cfg.max_height, cfg.max_width)
        )
        self.data = mujoco.MjData(self.model)
        m = self.model
        joints = [m.joint(name) for name in JOINT_NAMES]
        self._qpos = np.array([j.qposadr[0] for j in joints])
        self._qvel = np.array([j.dofadr[0] for j in joints])
        self._actuators = np.array([m.actuator(name).id for name in JOINT_NAMES])
        self._ctrl_lo, self._ctrl_hi = m.actuator_ctrlrange[self._actuators].T.copy()
        self._goal = np.empty(len(JOINT_NAMES))
        self._cube_qpos = m.joint("cube").qposadr[0]
        self._bowl_mocap = m.body("bowl").mocapid[0]
        self._cameras = {name: m.camera(name).id for name in CAMERAS}
        self._geom_role = _geom_roles(m)
        self._pads = (m.geom("fixed_pad").id, m.geom("moving_pad").id)
        self.kinematics = ArmKinematics.from_model(m, GRIP_CENTER)
        home = np.zeros(6)
        home[:5] = self.kinematics.solve(HOME_TOOL, roll=0.0)
        self.home = from_radians(home)
        self.home[GRIPPER] = HOME_GRIPPER
        self._renderer = None
        self._fromto = np.zeros(6)
        self.layout: CellLayout | None = None
        self.reset(seed=0)

    # --- episode ---------------------------------------------------------------------------

    def reset(
        self,
        seed: int | None = None,
        layout: CellLayout | None = None,
        joints: Sequence[float] | None = None,
    ) -> CellLayout:
        """Starts an episode: the cube and bowl of `layout` (or of `seed`), the arm at rest at
        `joints` (LeRobot units; default `home`) with those as goals, all servos on."""
        if layout is None:
            if seed is None:
                raise SimError("reset needs a seed or a layout")
            layout = CellLayout.sample(seed)
        mujoco, m, d = self._mujoco, self.model, self.data
        mujoco.mj_resetData(m, d)
        m.opt.disableactuator = 0
        start = to_radians(self.home if joints is None else joints)
        d.qpos[self._qpos] = start
        d.ctrl[self._actuators] = start
        half_yaw = layout.cube_yaw / 2
        d.qpos[self._cube_qpos : self._cube_qpos + 7] = (
            *layout.cube_xy,
            CUBE_SIZE / 2,
            np.cos(half_yaw),
            0.0,
            0.0,
            np.sin(half_yaw),
        )
        d.mocap_pos[self._bowl_mocap] = (*layout.bowl_xy, 0.0)
        mujoco.mj_forward(m, d)
        self._steps = 0
        self._asked = 0.0
        self.layout = layout
        return layout

    def step(self, seconds: float) -> None:
        """Advances the physics by `seconds` (whole steps; see the module docstring)."""
        if seconds < 0:
            raise SimError(f"cannot step back in time ({seconds} s)")
        self._asked += seconds
        target = round(self._asked / self.config.timestep)
        if target > self._steps:
            self._mujoco.mj_step(self.model, self.data, nstep=target - self._steps)
            self._steps = target
            # mj_step leaves body poses and contacts at the last step's start: bring them to the
            # new state so frames, contacts and joint positions describe the same instant.
            self._mujoco.mj_forward(self.model, self.data)

    @property
    def time(self) -> float:
        """Simulated seconds since `reset`."""
        return self.data.time

    # --- servos ----------------------------------------------------------------------------

    def set_goals(self, values: Sequence[float] | np.ndarray) -> None:
        """Goal positions of the six servos in LeRobot units (degrees, gripper 0..100); each is
        held to its joint's range as a servo holds Goal_Position to its position limits."""
        if len(values) != len(JOINT_NAMES):
            raise SimError(f"expected {len(JOINT_NAMES)} goals ({', '.join(JOINT_NAMES)})")
        if not np.all(np.isfinite(values)):
            raise SimError(f"goals must be finite numbers, got {list(values)}")
        rad = to_radians(values, self._goal)
        self.data.ctrl[self._actuators] = np.clip(rad, self._ctrl_lo, self._ctrl_hi, out=rad)

    def goals(self) -> np.ndarray:
        """The goals in force, LeRobot units (after clamping to the joint ranges)."""
        return from_radians(self.data.ctrl[self._actuators])

    def joint_positions(self, out: np.ndarray | None = None) -> np.ndarray:
        """The six joints' positions, LeRobot units."""
        return from_radians(self.data.qpos[self._qpos], out)

    def joint_velocities(self, out: np.ndarray | None = None) -> np.ndarray:
        """The six joints' velocities, LeRobot units per second."""
        out = from_radians(self.data.qvel[self._qvel], out)
        out[GRIPPER] = self.data.qvel[self._qvel[GRIPPER]] / (GRIPPER_HI - GRIPPER_LO) * 100.0
        return out

    def joint_torques(self, out: np.ndarray | None = None) -> np.ndarray:
        """Each servo's output torque, as a fraction of its torque limit (-1..1; 0 when off):
        what a servo's Present_Load reports, in its own scale."""
        out = np.empty(len(JOINT_NAMES)) if out is None else out
        limits = self.model.actuator_forcerange[self._actuators, 1]
        np.divide(self.data.actuator_force[self._actuators], limits, out=out)
        return out

    def set_torque(self, enabled: bool | Sequence[bool]) -> None:
        """Switches the servos' torque on or off, all at once or one flag per joint."""
        flags = [enabled] * len(JOINT_NAMES) if isinstance(enabled, bool) else list(enabled)
        if len(flags) != len(JOINT_NAMES):
            raise SimError(f"expected one torque flag per joint ({len(JOINT_NAMES)})")
        # Actuator i is in actuator group i (see arm_model); a set bit disables the group.
        self.model.opt.disableactuator = sum(1 << i for i, on in enumerate(flags) if not on)

    def torque(self) -> tuple[bool, ...]:
        mask = self.model.opt.disableactuator
        return tuple(not (mask >> i) & 1 for i in range(len(JOINT_NAMES)))

    # --- objects and task state --------------------------------------------------------------

    def cube_pose(self) -> Pose:
        q = self.data.qpos[self._cube_qpos : self._cube_qpos + 7]
        return Pose(q[:3].copy(), q[3:].copy())

    def bowl_position(self) -> np.ndarray:
        return self.data.mocap_pos[self._bowl_mocap].copy()

    def cell_state(self) -> CellState:
        """A snapshot for the task detectors (`act_tool.sim.detectors`)."""
        m, d = self.model, self.data
        fixed, moving = self._pads
        gap = self._mujoco.mj_geomDistance(m, d, fixed, moving, 0.2, self._fromto)
        roles = self._geom_role[d.contact.geom[: d.ncon]]  # (ncon, 2)
        with_cube = roles[(roles == CUBE).any(axis=1)]
        return CellState(
            time=d.time,
            gripper=float(self.joint_positions()[GRIPPER]),
            pad_gap=float(gap),
            pads_center=(d.geom_xpos[fixed] + d.geom_xpos[moving]) / 2,
            cube_position=d.qpos[self._cube_qpos : self._cube_qpos + 3].copy(),
            bowl_position=self.bowl_position(),
            cube_touches_fixed_jaw=bool((with_cube == FIXED_JAW).any()),
            cube_touches_moving_jaw=bool((with_cube == MOVING_JAW).any()),
            cube_touches_arm=bool((with_cube >= ARM).any()),
        )

    # --- cameras ---------------------------------------------------------------------------

    def render(self, camera: str, out: np.ndarray, rgb: bool = False) -> np.ndarray:
        """Draws `camera` ("front" or "handeye") into `out`, a uint8 (H, W, 3) array of any size
        up to the config's maximum, in BGR (OpenCV's order) or RGB; returns `out`."""
        if camera not in self._cameras:
            raise SimError(f"unknown camera '{camera}': choose one of {', '.join(CAMERAS)}")
        if self._renderer is None:
            self._renderer = FrameRenderer(
                self.model, self.config.max_height, self.config.max_width
            )
        return self._renderer.render(self.data, self._cameras[camera], out, rgb)

    def close(self) -> None:
        """Frees the renderer's OpenGL resources."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> Twin:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# Geom roles for contact tests; every arm role is >= ARM.
OTHER, CUBE, ARM, FIXED_JAW, MOVING_JAW = 0, 1, 2, 3, 4


def _geom_roles(model) -> np.ndarray:
    body = model.geom_bodyid
    arm_bodies = {model.body(n).id for n in ("shoulder", "upper_arm", "lower_arm", "wrist")}
    arm_bodies.add(model.body("base").id)
    roles = np.full(model.ngeom, OTHER, dtype=np.int8)
    roles[np.isin(body, list(arm_bodies))] = ARM
    roles[body == model.body("gripper").id] = FIXED_JAW
    roles[body == model.body("moving_jaw").id] = MOVING_JAW
    roles[body == model.body("cube").id] = CUBE
    return roles
