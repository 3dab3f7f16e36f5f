"""Real-time priority, the twin's GL and the calibration files, each found or missing."""

from __future__ import annotations

import subprocess

from act_tool import gpu
from act_tool.doctor import system
from act_tool.doctor.report import Status
from act_tool.hw.emulator import write_calibration_file


def test_realtime_refused_gets_the_limits_fix(monkeypatch):
    monkeypatch.setattr(system.sys, "platform", "linux")
    monkeypatch.setattr(system.realtime, "permitted", lambda priority: False)
    (item,) = system.realtime_section().items
    assert item.status is Status.PROBLEM
    assert "rtprio 40" in item.fix and "/etc/security/limits.conf" in item.fix


def test_realtime_allowed(monkeypatch):
    monkeypatch.setattr(system.sys, "platform", "linux")
    monkeypatch.setattr(system.realtime, "permitted", lambda priority: True)
    section = system.realtime_section()
    assert section.items[0].status is Status.OK and section.data["permitted"] is True


def test_realtime_elsewhere_is_linux_only(monkeypatch):
    monkeypatch.setattr(system.sys, "platform", "darwin")
    assert "Linux only" in system.realtime_section().items[0].detail


def test_twin_without_mujoco(monkeypatch):
    monkeypatch.setattr(gpu, "module_installed", lambda module: module != "mujoco")
    (item,) = system.twin_section().items
    assert item.status is Status.ABSENT and item.fix == "pip install 'act-tool[sim]'"


def test_twin_whose_rendering_fails(monkeypatch):
    monkeypatch.setattr(gpu, "module_installed", lambda module: True)

    def fake_run(*args, **kwargs):
        out = '{"error": "RenderError: no offscreen OpenGL library found"}\n'
        return subprocess.CompletedProcess(args, 0, out, "")

    monkeypatch.setattr(system.subprocess, "run", fake_run)
    (item,) = system.twin_section().items
    assert item.status is Status.PROBLEM and "no offscreen OpenGL" in item.detail
    assert "libosmesa6" in item.fix


def test_twin_probe_that_crashes(monkeypatch):
    monkeypatch.setattr(gpu, "module_installed", lambda module: True)
    monkeypatch.setattr(
        system.subprocess,
        "run",
        lambda *a, **k: subprocess.CompletedProcess(a, -11, "", "Segmentation fault\n"),
    )
    (item,) = system.twin_section().items
    assert item.status is Status.PROBLEM and "status -11: Segmentation fault" in item.detail


def test_calibration_files_listed_per_folder(calibration_home):
    write_calibration_file("arm_a", root=calibration_home)
    old = calibration_home / "robots" / "so101_follower"
    old.mkdir(parents=True)
    (old / "arm_b.json").write_text("{not json")
    section = system.calibration_section()
    first, second = section.items
    assert first.status is Status.OK and "robot ids: arm_a" in first.detail
    assert second.status is Status.PROBLEM and "arm_b.json" in second.detail
    assert section.data["robot_ids"] == {"so_follower": ["arm_a"], "so101_follower": ["arm_b"]}


def test_no_calibration_files(calibration_home):
    (item,) = system.calibration_section().items
    assert item.status is Status.ABSENT and "lerobot-calibrate" in item.fix
