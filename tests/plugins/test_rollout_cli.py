"""LeRobot's own `lerobot-rollout` (its real console script, a subprocess) runs an act-tool
export through the policy plugin, on LeRobot's SO-101 follower driving the virtual arm (the
emulator `act-tool emulate` runs) with the camera plugin's synthetic frames."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from act_tool.hw.emulator import EmulatorConfig, VirtualArm, write_calibration_file
from act_tool.hw.feetech import Reg
from tests.plugins.conftest import lerobot_env, lerobot_script

pytest.importorskip("scservo_sdk", reason="LeRobot's feetech extra is not installed")
pytestmark = pytest.mark.slow

JOINTS = range(1, 7)


def cameras(height: int, width: int) -> str:
    cam = f"type: act_tool, width: {width}, height: {height}, fps: 30"
    return f"{{front: {{{cam}, seed: 1}}, handeye: {{{cam}, seed: 2}}}}"


def rollout(folder: Path, port: str, tmp_path: Path, overlay: Path, *extra: str, size=(64, 96)):
    calibration = write_calibration_file("virt", root=tmp_path / "calibration")
    return subprocess.run(
        [
            lerobot_script("lerobot-rollout"),
            "--strategy.type=base",
            f"--policy.path={folder}",
            "--robot.type=so101_follower",
            f"--robot.port={port}",
            "--robot.id=virt",
            f"--robot.calibration_dir={calibration.parent}",
            f"--robot.cameras={cameras(*size)}",
            "--task=test",
            "--duration=3",
            *extra,
        ],
        env=lerobot_env(overlay, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_lerobot_rollout_runs_the_export_and_writes_goals(tmp_path, overlay, bench_onnx):
    with VirtualArm(EmulatorConfig(wire_time=False)) as virtual:
        before = [virtual.register(i, Reg.GOAL_POSITION) for i in JOINTS]
        result = rollout(
            bench_onnx.parent, virtual.port, tmp_path, overlay, "--return_to_initial_position=false"
        )
        log = result.stdout + result.stderr
        assert result.returncode == 0, log
        assert "type=act_tool" in log and "self-check: act.onnx" in log and "PASS" in log
        assert "Rollout finished" in log
        after = [virtual.register(i, Reg.GOAL_POSITION) for i in JOINTS]
        assert after != before, "the policy's goals never reached the servos"
        assert [virtual.register(i, Reg.TORQUE_ENABLE) for i in JOINTS] == [0] * 6


def _refused(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode != 0
    # from the policy's loading on: the message alone (other installed plugins that fail to
    # import may print LeRobot's tracebacks earlier, at discovery)
    loading = result.stderr[result.stderr.find("Loading policy from") :]
    assert "Loading policy from" in result.stderr and "Traceback" not in loading, result.stderr
    text = " ".join(result.stderr.split())
    for phrase in phrases:
        assert phrase in text, result.stderr
    assert "Connecting robot" not in result.stdout + result.stderr  # LeRobot never got that far


def test_cameras_of_another_size_are_refused_before_the_robot_connects(
    tmp_path, overlay, bench_onnx
):
    with VirtualArm(EmulatorConfig(wire_time=False)) as virtual:
        result = rollout(bench_onnx.parent, virtual.port, tmp_path, overlay, size=(48, 64))
        _refused(result, "camera front is configured for 64x48", "width: 96, height: 64")
        assert [virtual.register(i, Reg.TORQUE_ENABLE) for i in JOINTS] == [0] * 6


def test_a_folder_without_check_file_is_refused_before_the_robot_connects(
    tmp_path, overlay, bench_onnx
):
    folder = tmp_path / "export"
    shutil.copytree(bench_onnx.parent, folder)
    (folder / "act.onnx.check.npz").unlink()
    with VirtualArm(EmulatorConfig(wire_time=False)) as virtual:
        result = rollout(folder, virtual.port, tmp_path, overlay)
        _refused(result, "act-tool policy:", "check", "The robot was not connected")
        assert [virtual.register(i, Reg.TORQUE_ENABLE) for i in JOINTS] == [0] * 6
