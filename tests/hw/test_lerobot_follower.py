"""LeRobot's own SO101Follower, unmodified, drives the virtual arm."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from act_tool.hw.emulator import EmulatorConfig, VirtualArm, write_calibration_file
from act_tool.hw.feetech import Reg

pytest.importorskip("scservo_sdk", reason="LeRobot's feetech extra is not installed")


@pytest.mark.parametrize("wire_time", [False, True])
def test_so101_follower_connects_reads_and_moves(tmp_path: Path, wire_time: bool):
    from lerobot.robots.so_follower import SO101Follower, SO101FollowerConfig

    root = tmp_path / "calibration"
    calibration_file = write_calibration_file("virtual", root=root)
    with VirtualArm(EmulatorConfig(wire_time=wire_time)) as virtual:
        config = SO101FollowerConfig(
            port=virtual.port,
            id="virtual",
            calibration_dir=calibration_file.parent,
            cameras={},
        )
        robot = SO101Follower(config)
        # The file matches the servos, so connect() skips calibrate() (which would prompt).
        robot.connect()
        try:
            assert robot.is_calibrated
            assert virtual.register(1, Reg.TORQUE_ENABLE) == 1
            assert virtual.register(1, Reg.RETURN_DELAY_TIME) == 0
            obs = robot.get_observation()
            assert set(obs) == {
                "shoulder_pan.pos",
                "shoulder_lift.pos",
                "elbow_flex.pos",
                "wrist_flex.pos",
                "wrist_roll.pos",
                "gripper.pos",
            }
            assert obs["gripper.pos"] == pytest.approx(50.0, abs=0.1)
            action = {key: value + 10.0 for key, value in obs.items()}
            robot.send_action(action)
            deadline = time.monotonic() + 5
            while True:
                obs = robot.get_observation()
                if all(abs(obs[k] - action[k]) < 0.2 for k in action):
                    break
                assert time.monotonic() < deadline, f"never reached {action}: {obs}"
                time.sleep(0.02)
        finally:
            robot.disconnect()
        assert [virtual.register(i, Reg.TORQUE_ENABLE) for i in range(1, 7)] == [0] * 6
