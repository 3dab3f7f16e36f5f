"""`act-tool doctor` end to end: this machine (no GPU), the virtual arm on a pty, a video file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.doctor import checks, hardware, software, system
from act_tool.doctor.report import Status
from act_tool.hw import camera_probe, ports
from act_tool.hw.emulator import write_calibration_file
from tests.doctor.conftest import VIDEO_FPS

TITLES = [
    software.PYTHON_TITLE,
    software.VERSIONS_TITLE,
    software.INFERENCE_TITLE,
    hardware.SERIAL_TITLE,
    hardware.CAMERA_TITLE,
    system.REALTIME_TITLE,
    system.TWIN_TITLE,
    system.CALIBRATION_TITLE,
]


def test_doctor_on_this_machine(virtual_arm, video_file, no_gpu, calibration_home, tmp_path):
    write_calibration_file("test_arm", root=calibration_home)
    out = tmp_path / "doctor.json"
    args = ["doctor", "--port", virtual_arm.port, "--camera", str(video_file), "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = result.output
    for title in TITLES:
        assert title in text
    assert f"{virtual_arm.port}" in text
    pty_line = next(line for line in text.splitlines() if virtual_arm.port in line)
    assert "servos 1-6 answer, model 777 (STS3215)" in pty_line
    assert f"64x48, asked {VIDEO_FPS:g} fps, delivered" in text
    assert f"--cameras front={video_file}" in text
    assert "no GPU" in text and "CUDA driver" in text
    assert "robot ids: test_arm" in text

    found = json.loads(out.read_text())
    sections = {s["title"]: s for s in found["sections"]}
    assert list(sections) == TITLES
    assert all(s["items"] for s in sections.values()), "every section says something"
    pty = next(
        p for p in sections[hardware.SERIAL_TITLE]["data"]["ports"] if p["port"] == virtual_arm.port
    )
    assert pty["servos"] == {str(i): 777 for i in range(1, 7)}
    (cam,) = [c for c in sections[hardware.CAMERA_TITLE]["data"]["cameras"] if c["kind"] == "file"]
    assert (cam["width"], cam["height"], cam["requested_fps"]) == (64, 48, VIDEO_FPS)
    # paced at the file's rate: never faster; a loaded machine may lag
    assert VIDEO_FPS / 3 < cam["delivered_fps"] <= VIDEO_FPS * 1.05
    inference = sections[software.INFERENCE_TITLE]["data"]
    assert inference["compute_capability"] is None and inference["cuda_driver"] is None
    assert inference["can_run"] == {"tensorrt": False, "tensorrt-rtx": False}
    assert sections[system.CALIBRATION_TITLE]["data"]["robot_ids"]["so_follower"] == ["test_arm"]


def test_doctor_with_nothing_plugged_in(monkeypatch, no_gpu, calibration_home):
    monkeypatch.setattr(ports, "list_usb_serial_ports", lambda: [])
    monkeypatch.setattr(camera_probe, "camera_candidates", lambda: [])
    result = CliRunner().invoke(app, ["doctor", "--no-twin"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "no USB serial ports found" in text and "act-tool find-port" in text
    assert "no cameras found" in text
    assert "no GPU" in text
    assert "no SO-101 calibration files" in text and "lerobot-calibrate" in text
    assert system.TWIN_TITLE not in text


def test_given_sources_beside_none_found(monkeypatch, video_file, tmp_path):
    monkeypatch.setattr(ports, "list_usb_serial_ports", lambda: [])
    monkeypatch.setattr(camera_probe, "camera_candidates", lambda: [])
    serial = hardware.serial_section([str(tmp_path / "ttyNONE")])
    assert [i.detail for i in serial.items] == [
        "no USB serial ports found (besides --port)",
        "no such device",
    ]
    cams = hardware.camera_section([str(video_file)], seconds=0.2)
    assert cams.items[0].detail == "no cameras found (besides --camera)"
    assert cams.items[1].status is Status.OK


def test_a_failing_check_is_reported_and_the_rest_still_run(monkeypatch, calibration_home):
    def broken():
        raise RuntimeError("the probe exploded")

    monkeypatch.setattr(software, "inference_section", broken)
    monkeypatch.setattr(ports, "list_usb_serial_ports", lambda: [])
    monkeypatch.setattr(camera_probe, "camera_candidates", lambda: [])
    sections = checks.run_doctor(checks.DoctorOptions(twin=False))
    failed = next(s for s in sections if s.title == software.INFERENCE_TITLE)
    assert failed.items[0].status is Status.PROBLEM
    assert "RuntimeError: the probe exploded" in failed.items[0].detail
    assert len(sections) == len(TITLES) - 1  # all others ran
    assert all(s.items for s in sections)


def test_options_are_checked():
    with pytest.raises(ValueError, match="camera_seconds"):
        checks.DoctorOptions(camera_seconds=0)


def test_json_goes_where_asked(monkeypatch, tmp_path: Path, calibration_home):
    monkeypatch.setattr(ports, "list_usb_serial_ports", lambda: [])
    monkeypatch.setattr(camera_probe, "camera_candidates", lambda: [])
    out = tmp_path / "deep" / "er" / "doctor.json"
    result = CliRunner().invoke(app, ["doctor", "--no-twin", "--json", str(out)])
    assert result.exit_code == 0, result.output
    found = json.loads(out.read_text())
    assert found["problems"] == sum(
        1 for s in found["sections"] for i in s["items"] if i["status"] == "problem"
    )


# A fresh interpreter in which the heavy libraries cannot be found: the core install.
_CORE_ONLY = """
import sys
BLOCKED = {"torch", "lerobot", "onnx", "onnxscript", "mujoco", "tensorrt", "tensorrt_rtx"}

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
from typer.testing import CliRunner
from act_tool.cli import app
result = CliRunner().invoke(app, ["doctor", "--port", sys.argv[1]])
print(result.output)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print("LOADED:", loaded, "EXIT:", result.exit_code)
"""


def test_doctor_in_a_core_install(virtual_arm, calibration_home):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _CORE_ONLY, virtual_arm.port],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "LOADED: [] EXIT: 0" in out, out
    assert "[export]" in out and "train and export: not installed" in out
    assert "TensorRT-RTX  not installed" in out
    assert "MuJoCo        not installed" in out and "act-tool[sim]" in out
    assert "servos 1-6 answer, model 777 (STS3215)" in out
