"""The twin as a LeRobot robot: act-tool's simulated SO-101 (act_tool.sim.arm) on the wall clock.

`connect()` builds the cell (laid out for `seed`), serves its six servos on a pseudo-terminal
and connects act-tool's SO-101 driver to them (configure, calibration check, torque on: time
starts to flow, the physics thread advancing the twin in real time); each camera renders at
`fps` on that thread. `get_observation()` reads the joints over the bus (LeRobot units) and
copies the newest frame of each camera (RGB, as LeRobot's cameras deliver them);
`send_action()` writes the joints' goals (held to `max_relative_target` and the calibrated
range, as on the real arm) and returns the goals sent. `disconnect()` switches every servo's
torque off (the twin's actuators are released, the arm sinks under gravity as a real one
would) and frees the bus, the physics thread and the renderer.
"""

from __future__ import annotations

import atexit
import logging
import sys
from contextlib import ExitStack
from typing import Any

import numpy as np
from lerobot.robots.robot import Robot
from lerobot.utils.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError

from act_tool.errors import ActToolError
from act_tool.hw.so101.joints import JOINT_NAMES
from act_tool.robot_types import SO101_FOLLOWER
from act_tool.runtime.arm_kinds import ArmOptions, ArmRequest
from act_tool.runtime.loop_config import LoopConfig
from act_tool.sim.arm import open_sim_so101, twin_spec
from lerobot_robot_act_tool_twin.config_act_tool_twin import ActToolTwinRobotConfig

logger = logging.getLogger(__name__)
SWITCH_INTERVAL_S = LoopConfig.switch_interval_s  # as act-tool's own control loop
KEYS = tuple(f"{j}.pos" for j in JOINT_NAMES)


class ActToolTwinRobot(Robot):
    config_class = ActToolTwinRobotConfig
    # LeRobot writes `name` as the robot_type of the datasets it records: the twin records
    # SO-101 follower episodes, as `act-tool dataset sim` does (and a policy trained on them
    # runs on the real arm). The config type stays act_tool_twin.
    name = SO101_FOLLOWER.name

    def __init__(self, config: ActToolTwinRobotConfig) -> None:
        super().__init__(config)
        self.config = config
        # what LeRobot's record counts its image writers by
        self.cameras: dict[str, tuple[int, int]] = {
            c: (config.height, config.width) for c in config.cameras_tuple
        }
        self.twin = None  # act_tool.sim.twin.Twin while connected (and after, for inspection)
        self._stack: ExitStack | None = None
        self._arm: Any = None
        self._driver: Any = None
        self._slots: dict[str, int] = {}
        self._bgr = {c: np.zeros((h, w, 3), np.uint8) for c, (h, w) in self.cameras.items()}
        self._state = np.zeros(len(KEYS), np.float32)

    @property
    def observation_features(self) -> dict:
        shape = (self.config.height, self.config.width, 3)
        return {**dict.fromkeys(KEYS, float), **dict.fromkeys(self.cameras, shape)}

    @property
    def action_features(self) -> dict:
        return dict.fromkeys(KEYS, float)

    @property
    def is_connected(self) -> bool:
        return self._stack is not None

    @property
    def is_calibrated(self) -> bool:
        return True  # the twin's servos hold the calibration its driver is given

    def calibrate(self) -> None:
        pass

    def configure(self) -> None:
        pass  # the driver configures the servos as it connects

    def connect(self, calibrate: bool = True) -> None:
        if self.is_connected:
            raise DeviceAlreadyConnectedError(f"{self} is already connected")
        cfg = self.config
        spec = twin_spec(cfg.cameras_tuple, cfg.height, cfg.width, cfg.fps, cfg.units)
        options = ArmOptions(port="sim", seed=cfg.seed, max_relative_target=cfg.max_relative_target)
        with ExitStack() as stack:
            robot = open_sim_so101(ArmRequest(options, spec), stack, logger.info)
            driver = robot.camera_context["realtime_twin"]
            self.twin = driver.bus.twin
            arm = robot.arm
            arm.__enter__()  # configure, calibration check, torque on: time flows
            stack.callback(arm.__exit__, None, None, None)  # torque off first on the way out
            self._slots = {
                c: driver.add_camera(c, cfg.height, cfg.width) for c in cfg.cameras_tuple
            }
            self._arm, self._driver = arm, driver
            # The twin's physics, renders and bus are threads of this process: the thread that
            # talks to other devices (a leader arm's bus, whose reply LeRobot waits for a few
            # ms only) must get the interpreter back sooner than Python's default 5 ms.
            stack.callback(sys.setswitchinterval, sys.getswitchinterval())
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
            # A command that fails after connecting may never call disconnect (lerobot-rollout
            # does not when its dataset options are wrong): torque goes off at exit, while the
            # bus thread still answers (Robot.__del__ would run after it has stopped).
            atexit.register(self._disconnect_at_exit)
            stack.callback(atexit.unregister, self._disconnect_at_exit)
            self._stack = stack.pop_all()
        logger.info("the twin connected (seed %d)", cfg.seed)

    def get_observation(self) -> dict[str, Any]:
        if not self.is_connected:
            raise DeviceNotConnectedError(f"{self} is not connected")
        self._arm.read_positions(self._state)
        observation: dict[str, Any] = {k: float(v) for k, v in zip(KEYS, self._state, strict=True)}
        for camera, slot in self._slots.items():
            frame = self._bgr[camera]
            if not self._driver.copy_frame(slot, frame):
                raise DeviceNotConnectedError(
                    f"the twin stopped rendering ({self._driver.failure!r}): disconnect and "
                    "connect again"
                )
            observation[camera] = np.ascontiguousarray(frame[..., ::-1])  # RGB
        return observation

    def send_action(self, action: dict[str, Any]) -> dict[str, Any]:
        if not self.is_connected:
            raise DeviceNotConnectedError(f"{self} is not connected")
        missing = [k for k in KEYS if k not in action]
        if missing:
            raise ActToolError(
                f"the twin's arm needs a goal for every joint; missing {', '.join(missing)} (got "
                f"{', '.join(map(str, action)) or 'nothing'}). A teleoperator or policy for it "
                "gives the SO-101's joints (e.g. --teleop.type=so101_leader)"
            )
        goals = np.array([float(action[k]) for k in KEYS], np.float32)
        sent = self._arm.write_goals(goals)
        return {k: float(v) for k, v in zip(KEYS, sent, strict=True)}

    def disconnect(self) -> None:
        if not self.is_connected:
            raise DeviceNotConnectedError(f"{self} is not connected")
        stack, self._stack = self._stack, None
        self._arm = self._driver = None
        assert stack is not None
        stack.close()
        if any(self.twin.torque()):
            logger.warning("the twin disconnected, but its servos' torque is still on")
        else:
            logger.info("the twin disconnected, torque off")

    def _disconnect_at_exit(self) -> None:
        if self.is_connected:
            self.disconnect()
