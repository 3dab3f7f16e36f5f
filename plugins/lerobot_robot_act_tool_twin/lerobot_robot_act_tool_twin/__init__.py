"""act-tool's SO-101 digital twin as a LeRobot robot: `--robot.type=act_tool_twin` in
`lerobot-record`, `lerobot-teleoperate` and `lerobot-rollout`.

LeRobot imports this package by its distribution name; importing it registers the robot config.
The robot is a thin adapter over act-tool's simulated arm (act_tool.sim.arm: the twin on the
wall clock behind the servo bus, driven by act-tool's SO-101 driver) and its rendered cameras.
"""

from lerobot_robot_act_tool_twin.act_tool_twin import ActToolTwinRobot
from lerobot_robot_act_tool_twin.config_act_tool_twin import ROBOT_TYPE, ActToolTwinRobotConfig

__all__ = ["ROBOT_TYPE", "ActToolTwinRobot", "ActToolTwinRobotConfig"]
