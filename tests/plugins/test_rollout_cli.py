"""LeRobot's own `lerobot-rollout` (its real console script, a subprocess) runs an act-tool
export through the policy plugin, on LeRobot's SO-101 follower driving the virtual arm (the
emulator `act-tool emulate` runs) with the camera plugin's synthetic frames."""

from __future__ import annotations

import json
import shutil
import subprocess
from contextlib import ExitStack
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


def rollout(
    folder: Path,
    port: str,
    tmp_path: Path,
    overlay: Path,
    *extra: str,
    size=(64, 96),
    strategy="base",
):
    calibration = write_calibration_file("virt", root=tmp_path / "calibration")
    return subprocess.run(
        [
            lerobot_script("lerobot-rollout"),
            f"--strategy.type={strategy}",
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


@pytest.mark.parametrize(
    "options",
    [(), ("--policy.temporal_ensemble_coeff=0.01", "--policy.n_action_steps=1")],
    ids=["queue", "ensembling"],
)
def test_lerobot_rollout_runs_the_export_and_writes_goals(tmp_path, overlay, bench_onnx, options):
    with VirtualArm(EmulatorConfig(wire_time=False)) as virtual:
        before = [virtual.register(i, Reg.GOAL_POSITION) for i in JOINTS]
        result = rollout(
            bench_onnx.parent,
            virtual.port,
            tmp_path,
            overlay,
            "--return_to_initial_position=false",
            *options,
        )
        log = result.stdout + result.stderr
        assert result.returncode == 0, log
        assert "type=act_tool" in log and "self-check: act.onnx" in log and "PASS" in log
        assert "Rollout finished" in log
        after = [virtual.register(i, Reg.GOAL_POSITION) for i in JOINTS]
        assert after != before, "the policy's goals never reached the servos"
        assert [virtual.register(i, Reg.TORQUE_ENABLE) for i in JOINTS] == [0] * 6


def _dataset(tmp_path: Path, name: str) -> list[str]:
    return [
        f"--dataset.repo_id=local/rollout_{name}",
        f"--dataset.root={tmp_path / name}",
        "--dataset.single_task=test",
        "--dataset.push_to_hub=false",
        "--dataset.num_episodes=1",
        "--dataset.episode_time_s=2",
        "--dataset.reset_time_s=0",
    ]


def _recorded(root: Path) -> tuple[int, int]:
    info = json.loads((root / "meta" / "info.json").read_text())
    return info["total_episodes"], info["total_frames"]


@pytest.mark.parametrize("strategy", ["sentry", "episodic", "dagger"])
def test_recording_strategies_record_the_plugins_rollout(tmp_path, overlay, bench_onnx, strategy):
    """sentry and episodic record what the policy does; dagger also needs a teleoperator: LeRobot's
    SO-101 leader on a second virtual arm (no keyboard here, so no intervention: the policy's
    autonomous phase is recorded)."""
    extra = _dataset(tmp_path, strategy)
    with VirtualArm(EmulatorConfig(wire_time=False)) as follower, ExitStack() as stack:
        if strategy == "dagger":
            leader = stack.enter_context(VirtualArm(EmulatorConfig(wire_time=False)))
            lead_file = write_calibration_file("lead", root=tmp_path / "leader")
            extra += [
                "--strategy.record_autonomous=true",
                "--teleop.type=so101_leader",
                f"--teleop.port={leader.port}",
                "--teleop.id=lead",
                f"--teleop.calibration_dir={lead_file.parent}",
            ]
        result = rollout(
            bench_onnx.parent, follower.port, tmp_path, overlay, *extra, strategy=strategy
        )
        log = result.stdout + result.stderr
        assert result.returncode == 0, log
        assert "type=act_tool" in log and "Rollout finished" in log
        episodes, frames = _recorded(tmp_path / strategy)
        assert episodes >= 1 and frames > 10, (episodes, frames)
        assert [follower.register(i, Reg.TORQUE_ENABLE) for i in JOINTS] == [0] * 6


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
