"""`act-tool run` and servo error bits: counted and reported by default, fatal when strict."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import act_tool.hw.emulator as emulator
import act_tool.hw.so101 as so101
from act_tool.cli import app
from act_tool.hw.emulator import Fault
from act_tool.hw.feetech.protocol import ErrorBit


@pytest.fixture
def overloaded_gripper(monkeypatch: pytest.MonkeyPatch) -> list[so101.ArmConfig]:
    """The emulated arm's gripper reports overload in the first 3 reads after connect."""
    virtual_arms: list[emulator.VirtualArm] = []
    configs: list[so101.ArmConfig] = []

    class Virtual(emulator.VirtualArm):
        def start(self) -> str:
            virtual_arms.append(self)
            return super().start()

    class Arm(so101.SO101Arm):
        def connect(self) -> None:
            configs.append(self.config)
            super().connect()  # connect itself raises on error bits: inject after it
            virtual_arms[-1].inject(6, Fault(error_bits=ErrorBit.OVERLOAD, count=3))

    monkeypatch.setattr(emulator, "VirtualArm", Virtual)
    monkeypatch.setattr(so101, "SO101Arm", Arm)
    return configs


def run(engine: Path, *extra: str):
    args = ["run", "--engine", str(engine), "--port", "emulated", "--duration", "1", *extra]
    return CliRunner().invoke(app, args)


def test_servo_errors_are_reported_after_the_run(tiny_onnx: Path, overloaded_gripper):
    result = run(tiny_onnx)
    assert result.exit_code == 0, result.output
    assert not overloaded_gripper[0].strict_servo_errors
    assert "servo errors" in result.output and "gripper overload in 3 reads" in result.output


def test_strict_servo_errors_stop_the_run(tiny_onnx: Path, overloaded_gripper):
    result = run(tiny_onnx, "--strict-servo-errors")
    assert overloaded_gripper[0].strict_servo_errors
    assert result.exit_code == 1
    assert "servo id 6 reports overload" in result.output
