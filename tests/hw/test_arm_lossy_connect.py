"""Connecting the SO-101 over a lossy bus: configuration writes are read back and written again,
so lost and corrupt answers do not fail the connect; a silent servo, or one that keeps a wrong
value, does, and the error names it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from act_tool.hw.emulator import (
    BusFaults,
    EmulatorConfig,
    Fault,
    FaultStart,
    VirtualArm,
    write_calibration_file,
)
from act_tool.hw.errors import BusTimeoutError, RegisterMismatchError
from act_tool.hw.feetech import Reg
from act_tool.hw.so101 import ArmConfig, SO101Arm

from .conftest import TEST_MARGIN_S

IDS = (1, 2, 3, 4, 5, 6)
CONNECTS = 100
# A lost answer costs one wait of this margin. Shorter than the other tests' (100 connects meet
# hundreds of lost answers): an answer the busy machine delays beyond it counts as lost, is asked
# again, and comes late, which the bus also rides through.
LOSSY_MARGIN_S = 0.05


@pytest.fixture
def calibration_root(tmp_path: Path) -> Path:
    root = tmp_path / "calibration"
    write_calibration_file("lossy", root=root)
    return root


def lossy_arm(calibration_root: Path, faults: BusFaults) -> Iterator[tuple[VirtualArm, ArmConfig]]:
    with VirtualArm(EmulatorConfig(wire_time=False, faults=faults)) as virtual:
        yield (
            virtual,
            ArmConfig(
                port=virtual.port,
                robot_id="lossy",
                calibration_root=calibration_root,
                timeout_margin_s=LOSSY_MARGIN_S,
            ),
        )


@pytest.mark.parametrize(
    "faults",
    [BusFaults(seed=1, lost=0.01), BusFaults(seed=2, corrupt=0.005)],
    ids=["1%-lost", "0.5%-corrupt"],
)
def test_connect_survives_a_lossy_bus(calibration_root: Path, faults: BusFaults):
    for virtual, config in lossy_arm(calibration_root, faults):
        for _ in range(CONNECTS):
            with SO101Arm(config) as arm:
                assert arm.torque_enabled
        state = virtual.state()
    for i in IDS:  # the last connect configured every servo, and closing let go of it
        assert state[i]["ACCELERATION"] == 254 and state[i]["P_COEFFICIENT"] == 16
    assert state[6]["MAX_TORQUE_LIMIT"] == 500


def test_the_faults_did_strike(calibration_root: Path):
    """Without the read-backs and repeated writes, a single lost acknowledgement fails the
    connect: the faults of the test above are real for a plain write."""
    for _virtual, config in lossy_arm(calibration_root, BusFaults(seed=1, lost=0.01)):
        arm = SO101Arm(config)
        arm.connect()
        failures = 0
        for _ in range(300):
            try:
                arm.bus.write(1, Reg.ACCELERATION, 254)
            except BusTimeoutError:
                failures += 1
        arm.close()
    assert failures > 0


def test_silent_servo_fails_the_connect_naming_it(calibration_root: Path):
    for virtual, config in lossy_arm(calibration_root, BusFaults(silent_servo=4)):
        config = dataclasses.replace(config, timeout_margin_s=TEST_MARGIN_S, read_retries=0)
        with pytest.raises(BusTimeoutError, match=r"servo 4 \(wrist_flex\)") as e:
            SO101Arm(config).connect()
        assert e.value.missing_ids == (4,)
        assert [virtual.register(i, Reg.TORQUE_ENABLE) for i in (1, 2, 3, 5, 6)] == [0] * 5


def test_servo_going_silent_during_configuration_fails_naming_servo_and_register(
    calibration_root: Path,
):
    """Servo 5 answers the checks, then goes silent when configuration starts (its first
    Torque_Enable = 0 write): the read-back names it and the register."""
    for virtual, config in lossy_arm(calibration_root, BusFaults()):
        config = dataclasses.replace(config, timeout_margin_s=TEST_MARGIN_S, read_retries=0)
        arm = SO101Arm(config)
        arm._check_calibration = unplug_after(arm._check_calibration, virtual, 5)  # type: ignore[method-assign]
        with pytest.raises(BusTimeoutError) as e:
            arm.connect()
        text = str(e.value)
        assert "read-back of TORQUE_ENABLE (written 0) from servo 5 (wrist_roll)" in text
        assert "no answer" in text


def unplug_after(step, virtual: VirtualArm, servo_id: int):
    """`step`, then servo `servo_id` goes silent."""

    def step_then_unplug(*args) -> None:
        step(*args)
        virtual.inject(servo_id, Fault(silent=True))

    return step_then_unplug


def test_register_that_keeps_a_wrong_value_fails_naming_it(calibration_root: Path):
    for virtual, config in lossy_arm(calibration_root, BusFaults()):
        virtual.inject(6, Fault(stuck=Reg.MAX_TORQUE_LIMIT))
        with pytest.raises(RegisterMismatchError) as e:
            SO101Arm(config).connect()
        text = str(e.value)
        assert "MAX_TORQUE_LIMIT = 500 to servo 6 (gripper)" in text
        assert "keeps MAX_TORQUE_LIMIT = 1000" in text
        assert (e.value.servo_id, e.value.found) == (6, 1000)
        assert virtual.register(6, Reg.TORQUE_ENABLE) == 0


def test_faults_from_connected_spare_the_connect(calibration_root: Path):
    """Every answer lost, but only from the first tick on: the connect succeeds, the tick's
    read does not."""
    faults = BusFaults(lost=1.0, start=FaultStart.CONNECTED)
    for _virtual, config in lossy_arm(calibration_root, faults):
        with SO101Arm(config) as arm, pytest.raises(BusTimeoutError) as e:
            arm.read_positions(np.zeros(6, dtype=np.float32))
        assert e.value.missing_ids == IDS
