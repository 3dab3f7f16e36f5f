"""Shared fixtures: tiny ACT checkpoints (both layouts) and a tiny LeRobot dataset, built here with
LeRobot's own classes. No network, no GPU."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from act_tool.hw.emulator import EmulatorConfig, VirtualArm, write_calibration_file
from act_tool.hw.so101 import ArmConfig

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# Generous: the emulator shares 2 cores with the tests; fault tests use delays far above this.
TEST_MARGIN_S = 0.25
JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A LeRobot >= 0.4 `pretrained_model/` folder (processor files beside the weights)."""
    pytest.importorskip("lerobot")
    from act_tool.testing.tiny_checkpoint import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "pretrained_model")


@pytest.fixture(scope="session")
def legacy_checkpoint(tmp_path_factory) -> Path:
    """A LeRobot <= 0.3 checkpoint: normalization buffers inside model.safetensors."""
    pytest.importorskip("lerobot")
    from act_tool.testing.tiny_checkpoint import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("legacy"), legacy=True)


def write_tiny_dataset(root: Path, cameras=("front", "handeye"), h=64, w=96, episodes=2, frames=8):
    """A small LeRobot dataset made with LeRobot's own dataset API (smooth images, SO-101 names)."""
    import cv2
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    names = [f"{j}.pos" for j in JOINTS]
    features = {
        "observation.state": {"dtype": "float32", "shape": (6,), "names": names},
        "action": {"dtype": "float32", "shape": (6,), "names": names},
    }
    for cam in cameras:
        features[f"observation.images.{cam}"] = {
            "dtype": "image",
            "shape": (h, w, 3),
            "names": ["height", "width", "channels"],
        }
    ds = LeRobotDataset.create(
        repo_id="local/tiny",
        fps=30,
        features=features,
        root=root,
        robot_type="so101_follower",
        use_videos=False,
    )
    rng = np.random.default_rng(7)
    for _ in range(episodes):
        for _t in range(frames):
            frame = {"task": "pick the cube"}
            state = (rng.standard_normal(6) * 20).astype(np.float32)
            frame["observation.state"] = state
            frame["action"] = state + rng.standard_normal(6).astype(np.float32)
            for cam in cameras:
                small = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
                frame[f"observation.images.{cam}"] = cv2.resize(
                    small, (w, h), interpolation=cv2.INTER_LINEAR
                )
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize()
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    pytest.importorskip("lerobot")
    return write_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")


@pytest.fixture
def calibration_root(tmp_path: Path) -> Path:
    """A LeRobot calibration root (what $HF_LEROBOT_HOME/calibration would be)."""
    return tmp_path / "calibration"


@pytest.fixture
def virtual_arm() -> Iterator[VirtualArm]:
    """The virtual SO-101 without wire-time emulation (fast), stopped whatever happens."""
    with VirtualArm(EmulatorConfig(wire_time=False)) as virtual:
        yield virtual


@pytest.fixture
def arm_config(virtual_arm: VirtualArm, calibration_root: Path) -> ArmConfig:
    write_calibration_file("test_arm", root=calibration_root)
    return ArmConfig(
        port=virtual_arm.port,
        robot_id="test_arm",
        calibration_root=calibration_root,
        timeout_margin_s=TEST_MARGIN_S,
        read_retries=0,
    )


@pytest.fixture(scope="session")
def bench_onnx(tiny_checkpoint, tmp_path_factory) -> Path:
    """act.onnx of the shared tiny checkpoint (chunk_size 10), exported once per session."""
    from act_tool.export.pipeline import ExportOptions, run_export

    out = tmp_path_factory.mktemp("bench_onnx")
    run_export(ExportOptions(tiny_checkpoint, out, builder="onnx"), log=lambda _: None)
    return out / "act.onnx"
