"""`act-tool emulate` options that cannot go together."""

from __future__ import annotations

import subprocess
import sys

import pytest


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


def _emulate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from act_tool.cli import app; app()", "emulate", *args],
        capture_output=True,
        text=True,
        timeout=60,  # an emulator that starts instead would run until Ctrl-C
    )


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--lost-replies", "2"], "fraction of replies from 0 to 1"),
        (["--late-replies", "0.1", "--late-by", "0"], "delay above 0"),
        (["--unplug-servo", "9"], "servo ids are 1 to 6"),
        (["--faults-from", "later"], "use one of start, connected"),
        (["--sim", "--corrupt-replies", "0.1"], "drop --sim"),
    ],
)
def test_emulate_refuses_fault_options_out_of_range(args, hint):
    result = _emulate(*args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert hint in " ".join(result.stderr.split())  # the message may wrap
    assert "Traceback" not in result.stderr


def test_emulate_unplugs_the_servo_it_is_told_to():
    """The fault options reach the running virtual arm: servo 4 never answers."""
    import signal

    from act_tool.hw.errors import BusTimeoutError
    from act_tool.hw.feetech import FeetechBus, SerialTransport

    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from act_tool.cli import app; app()",
            "emulate",
            "--no-wire-time",
            "--unplug-servo",
            "4",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = proc.stdout.readline().split(" on ")[1].split()[0]
        with FeetechBus(SerialTransport(port), timeout_margin_s=0.25, read_retries=0) as bus:
            bus.ping(3)
            with pytest.raises(BusTimeoutError):
                bus.ping(4)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
