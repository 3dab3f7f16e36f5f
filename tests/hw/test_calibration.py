"""LeRobot calibration files: both folders, environment variables, missing and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from act_tool.hw.emulator import DEFAULT_CALIBRATION, write_calibration_file
from act_tool.hw.errors import CalibrationError
from act_tool.hw.so101 import find_calibration, load_calibration, save_calibration
from act_tool.hw.so101.calibration import calibration_root


def test_new_folder_is_found(calibration_root: Path):
    path = write_calibration_file("arm1", root=calibration_root)
    assert path == calibration_root / "robots" / "so_follower" / "arm1.json"
    assert find_calibration("arm1", calibration_root) == path
    assert load_calibration(path) == DEFAULT_CALIBRATION


def test_lerobot_04_folder_is_the_fallback(calibration_root: Path):
    old = calibration_root / "robots" / "so101_follower" / "arm2.json"
    save_calibration(DEFAULT_CALIBRATION, old)
    assert find_calibration("arm2", calibration_root) == old
    new = write_calibration_file("arm2", root=calibration_root)
    assert find_calibration("arm2", calibration_root) == new  # the newer folder wins


def test_hf_lerobot_home(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("HF_LEROBOT_CALIBRATION", raising=False)
    monkeypatch.setenv("HF_LEROBOT_HOME", str(tmp_path / "home"))
    assert calibration_root() == tmp_path / "home" / "calibration"
    path = write_calibration_file("arm3")
    assert path == tmp_path / "home" / "calibration" / "robots" / "so_follower" / "arm3.json"
    assert find_calibration("arm3") == path


def test_default_home(monkeypatch):
    monkeypatch.delenv("HF_LEROBOT_CALIBRATION", raising=False)
    monkeypatch.delenv("HF_LEROBOT_HOME", raising=False)
    assert calibration_root() == Path("~/.cache/huggingface/lerobot/calibration").expanduser()


def test_missing_file_says_how_to_calibrate(calibration_root: Path):
    with pytest.raises(CalibrationError) as e:
        find_calibration("nobody", calibration_root, port="/dev/ttyACM0")
    text = str(e.value)
    assert "so_follower/nobody.json" in text and "so101_follower/nobody.json" in text
    assert "lerobot-calibrate --robot.type=so101_follower --robot.port=/dev/ttyACM0" in text
    assert "--robot.id=nobody" in text


def test_lerobot_reads_our_file(calibration_root: Path):
    import draccus
    from lerobot.motors import MotorCalibration

    path = write_calibration_file("arm4", root=calibration_root)
    with open(path) as f, draccus.config_type("json"):
        cal = draccus.load(dict[str, MotorCalibration], f)
    assert cal["elbow_flex"].homing_offset == DEFAULT_CALIBRATION.joints[2].homing_offset


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", json.dumps({"shoulder_pan": {"id": 1}}), "{}"],
)
def test_bad_files(tmp_path: Path, content: str):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CalibrationError):
        load_calibration(path)


def test_wrong_id_or_range(tmp_path: Path):
    data = DEFAULT_CALIBRATION.to_json_dict()
    data["gripper"]["id"] = 9
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="gripper"):
        load_calibration(path)
    data = DEFAULT_CALIBRATION.to_json_dict()
    data["elbow_flex"]["range_min"] = 4000
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="range_min"):
        load_calibration(path)
