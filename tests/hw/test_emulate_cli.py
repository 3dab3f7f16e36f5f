"""`act-tool emulate` options that cannot go together."""

from __future__ import annotations

import subprocess
import sys


def test_emulate_refuses_factory_with_robot_id(tmp_path):
    """Factory servos hold offset 0 and limits 0..4095: no calibration file matches them."""
    result = subprocess.run(
        [sys.executable, "-c", "from act_tool.cli import app; app()", "emulate", "--factory"]
        + ["--robot-id", "arm", "--calibration-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,  # an emulator that starts instead would run until Ctrl-C
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "--factory" in result.stderr and "--robot-id" in result.stderr
    assert "lerobot-calibrate" in result.stderr
    assert not (tmp_path / "arm.json").exists()
