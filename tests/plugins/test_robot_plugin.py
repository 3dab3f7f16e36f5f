"""The twin as a LeRobot robot (`--robot.type=act_tool_twin`): connect, observe, act, disconnect
with the actuators released; LeRobot's own `lerobot-record` records a dataset from it with a
leader arm that needs no human (`act-tool emulate`, the virtual SO-101, as the leader); bad
option values end with a message, not a traceback."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.plugins.conftest import lerobot_command

KEYS = ("shoulder_pan.pos", "shoulder_lift.pos", "elbow_flex.pos", "wrist_flex.pos",
        "wrist_roll.pos", "gripper.pos")  # fmt: skip


def test_connect_observe_act_disconnect_releases_the_actuators(plugin_sources, tmp_path):
    from lerobot_robot_act_tool_twin import ActToolTwinRobot, ActToolTwinRobotConfig

    robot = ActToolTwinRobot(ActToolTwinRobotConfig(id="twin", calibration_dir=tmp_path, seed=3))
    assert robot.robot_type == "so101_follower"  # what recorded datasets say
    assert robot.observation_features == {
        **dict.fromkeys(KEYS, float),
        "front": (96, 128, 3),
        "handeye": (96, 128, 3),
    }
    assert robot.action_features == dict.fromkeys(KEYS, float)
    robot.connect()
    try:
        assert robot.is_connected and robot.twin.torque() == (True,) * 6
        first = robot.get_observation()
        assert set(first) == set(robot.observation_features)
        for key in KEYS:
            assert isinstance(first[key], float)
        for camera in ("front", "handeye"):
            frame = first[camera]
            assert frame.shape == (96, 128, 3) and frame.dtype == np.uint8
            assert frame.std() > 1.0  # a rendered scene, not a blank frame
        goal = {k: first[k] for k in KEYS}
        goal["shoulder_pan.pos"] += 20.0
        sent = robot.send_action(goal)
        assert sent["shoulder_pan.pos"] == pytest.approx(goal["shoulder_pan.pos"], abs=0.1)
        t0 = robot.twin.time
        deadline = time.monotonic() + 10.0  # the wall clock moves the arm: no one steps it
        while time.monotonic() < deadline:
            now = robot.get_observation()
            if abs(now["shoulder_pan.pos"] - goal["shoulder_pan.pos"]) < 2.0:
                break
            time.sleep(0.05)
        assert abs(now["shoulder_pan.pos"] - goal["shoulder_pan.pos"]) < 2.0
        assert robot.twin.time > t0
        with pytest.raises(Exception, match="missing"):
            robot.send_action({"shoulder_pan.pos": 0.0})
    finally:
        robot.disconnect()
    assert not robot.is_connected
    assert robot.twin.torque() == (False,) * 6  # torque off: the twin's actuators released


def test_bad_config_values_name_the_choices(plugin_sources, tmp_path):
    from lerobot_robot_act_tool_twin import ActToolTwinRobotConfig

    with pytest.raises(SystemExit, match="front, handeye"):
        ActToolTwinRobotConfig(camera_names="top")
    with pytest.raises(SystemExit, match="degrees"):
        ActToolTwinRobotConfig(units="radians")
    with pytest.raises(SystemExit, match="--robot.height"):
        ActToolTwinRobotConfig(height=4)


EMULATE = [sys.executable, "-c",
           "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
           "from act_tool.cli import app; app()", "emulate"]  # fmt: skip


def _start_leader(folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`act-tool emulate` (the virtual SO-101) as the leader arm: its port, and its LeRobot
    calibration file written as `leader.json` in `folder`."""
    proc = subprocess.Popen(
        [*EMULATE, "--robot-id", "leader", "--calibration-dir", str(folder), "--no-wire-time"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while True:
        line = proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the emulator did not start: {proc.stderr.read()}")
        if line.startswith("virtual SO-101 on "):
            return proc, line.split()[3]


@pytest.mark.slow
def test_lerobot_record_writes_a_dataset_in_the_twin(plugin_env, tmp_path):
    record = lerobot_command("lerobot-record")
    leader, port = _start_leader(tmp_path / "calibration", plugin_env)
    root = tmp_path / "dataset"
    try:
        result = subprocess.run(
            [*record, "--robot.type=act_tool_twin", "--robot.id=twin", "--robot.seed=5",
             f"--robot.calibration_dir={tmp_path / 'robot_calibration'}",
             "--teleop.type=so101_leader", f"--teleop.port={port}", "--teleop.id=leader",
             f"--teleop.calibration_dir={tmp_path / 'calibration'}",
             "--dataset.repo_id=local/twin_teleop", f"--dataset.root={root}",
             "--dataset.single_task=pick the cube and place it in the bowl",
             "--dataset.num_episodes=1", "--dataset.episode_time_s=3",
             "--dataset.reset_time_s=0", "--dataset.video=false",
             "--dataset.push_to_hub=false", "--play_sounds=false"],
            env=plugin_env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        leader.send_signal(signal.SIGINT)
        try:
            leader.wait(timeout=20)
        except subprocess.TimeoutExpired:
            leader.kill()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "disconnected, torque off" in result.stderr
    info = json.loads((root / "meta" / "info.json").read_text())
    assert info["total_episodes"] == 1 and info["total_frames"] >= 10  # 3 s, a loaded machine
    assert info["robot_type"] == "so101_follower"
    features = info["features"]
    assert features["observation.state"]["names"] == list(KEYS)
    assert features["action"]["names"] == list(KEYS)
    for camera in ("front", "handeye"):
        assert features[f"observation.images.{camera}"]["shape"] == [96, 128, 3]

    import pandas as pd

    (data,) = sorted((root / "data").rglob("*.parquet"))
    frames = pd.read_parquet(data)
    state = np.stack(frames["observation.state"].to_numpy())
    action = np.stack(frames["action"].to_numpy())
    # the leader holds still: every action is its pose, and the twin's arm moves toward it
    assert np.ptp(action, axis=0).max() < 0.5
    start_gap = np.abs(state[0] - action[0]).max()
    end_gap = np.abs(state[-1] - action[-1]).max()
    assert end_gap < start_gap / 2, (state[0], state[-1], action[-1])


@pytest.mark.slow
def test_a_bad_option_value_is_a_message_not_a_traceback(plugin_env):
    teleoperate = lerobot_command("lerobot-teleoperate")
    result = subprocess.run(
        [*teleoperate, "--robot.type=act_tool_twin", "--robot.camera_names=top",
         "--teleop.type=so101_leader", "--teleop.port=/dev/null"],
        env=plugin_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "--robot.camera_names=top" in result.stderr and "front, handeye" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_process_that_never_disconnects_still_ends_with_torque_off(plugin_env, tmp_path):
    """LeRobot's commands do not always disconnect (lerobot-rollout does not when it fails
    after connecting): the twin switches torque off at exit, while its bus still answers."""
    script = (
        "import logging, sys; logging.basicConfig(level=logging.INFO)\n"
        "from pathlib import Path\n"
        "from lerobot_robot_act_tool_twin import ActToolTwinRobot, ActToolTwinRobotConfig\n"
        f"robot = ActToolTwinRobot(ActToolTwinRobotConfig(calibration_dir=Path({str(tmp_path)!r})))\n"
        "robot.connect(); robot.get_observation()\n"
        "raise SystemExit(3)  # no disconnect\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=plugin_env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 3, result.stderr[-3000:]
    assert "the twin disconnected, torque off" in result.stderr
    assert "Traceback" not in result.stderr and "no answer" not in result.stderr


@pytest.mark.slow
def test_lerobot_rollout_runs_a_policy_on_the_twin(plugin_env, tiny_checkpoint, tmp_path):
    rollout = lerobot_command("lerobot-rollout")
    result = subprocess.run(
        [*rollout, "--strategy.type=base", "--robot.type=act_tool_twin", "--robot.seed=2",
         f"--robot.calibration_dir={tmp_path}", "--robot.height=64", "--robot.width=96",
         f"--policy.path={tiny_checkpoint}", "--policy.device=cpu",
         "--task=pick the cube and place it in the bowl", "--duration=3", "--play_sounds=false"],
        env=plugin_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Rollout finished" in result.stderr
    assert "the twin disconnected, torque off" in result.stderr
