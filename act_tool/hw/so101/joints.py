"""The SO-101's joints on the bus: servo ids, names and LeRobot keys, in LeRobot's order (the
same names and order as act_tool.robot_types.SO101_FOLLOWER, which the layers above use)."""

from __future__ import annotations

from enum import IntEnum


class Joint(IntEnum):
    """Value = servo id on the bus."""

    SHOULDER_PAN = 1
    SHOULDER_LIFT = 2
    ELBOW_FLEX = 3
    WRIST_FLEX = 4
    WRIST_ROLL = 5
    GRIPPER = 6

    @property
    def key(self) -> str:
        """LeRobot's name for the joint ('shoulder_pan')."""
        return self.name.lower()

    @property
    def lerobot_key(self) -> str:
        """LeRobot's observation/action key ('shoulder_pan.pos')."""
        return f"{self.key}.pos"


JOINTS: tuple[Joint, ...] = tuple(Joint)
JOINT_NAMES: tuple[str, ...] = tuple(j.key for j in JOINTS)
JOINT_KEYS: tuple[str, ...] = tuple(j.lerobot_key for j in JOINTS)
SERVO_IDS: tuple[int, ...] = tuple(int(j) for j in JOINTS)
N_JOINTS = len(JOINTS)
