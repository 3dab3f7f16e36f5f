"""The twin behind the servo bus: SO101Arm drives the simulated joints through the Feetech bytes
and the servo registers, and reads them back through the calibration."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim import helpers

pytest.importorskip("mujoco", reason=helpers.NO_SIM)

from act_tool.hw.emulator import DEFAULT_CALIBRATION, write_calibration_file  # noqa: E402
from act_tool.hw.feetech.protocol import Reg  # noqa: E402
from act_tool.hw.so101 import ArmConfig, SO101Arm  # noqa: E402
from act_tool.hw.so101.units import MAX_RES, UnitConverter  # noqa: E402
from act_tool.runtime.arm_guard import torque_guard  # noqa: E402
from act_tool.sim.bus import TwinBus  # noqa: E402

# A joint's Present_Position is the simulated angle rounded to a whole count (360/4095 deg), and
# the arm's unit conversion is LeRobot's float64 formula: half a count bounds their difference.
HALF_COUNT_DEG = 0.5 * 360 / MAX_RES


@pytest.fixture
def bus(twin):
    with TwinBus(twin, DEFAULT_CALIBRATION) as b:
        yield b


def connected(bus, tmp_path) -> SO101Arm:
    calibration = write_calibration_file("twin", root=tmp_path)
    return SO101Arm(ArmConfig(port=bus.port, calibration_path=calibration, timeout_margin_s=0.25))


def test_present_positions_are_the_twins_joints(bus, tmp_path):
    """Read over the bus, through the calibration: the twin's joints, to the count."""
    with torque_guard(connected(bus, tmp_path)) as arm:
        read = arm.read_positions(np.zeros(6))
        truth = bus.twin.joint_positions()
    np.testing.assert_allclose(read[:5], truth[:5], rtol=0, atol=HALF_COUNT_DEG)
    # gripper: 100 units over the calibrated range's counts
    cal = DEFAULT_CALIBRATION.joints[5]
    assert abs(read[5] - truth[5]) <= 0.5 * 100 / (cal.range_max - cal.range_min)


def test_goals_written_on_the_bus_move_the_physics(bus, tmp_path):
    with torque_guard(connected(bus, tmp_path)) as arm:
        start = arm.read_positions(np.zeros(6))
        goal = start + np.array([10.0, -8.0, 6.0, -5.0, 12.0, 20.0])
        sent = arm.write_goals(goal)
        bus.quiesce()
        for _ in range(60):  # 2 s of twin time
            bus.advance(1 / 30)
        reached = arm.read_positions(np.zeros(6))
        goal_registers = [s.get(Reg.GOAL_POSITION) for s in bus.servos]
    # The servos hold the goal counts the arm sent, and the twin's actuators hold them.
    expected = UnitConverter(DEFAULT_CALIBRATION, "degrees").to_counts(sent, [0] * 6)
    assert goal_registers == list(expected)
    np.testing.assert_allclose(bus.twin.goals()[:5], sent[:5], atol=2 * HALF_COUNT_DEG)
    # A position servo settles near its goal; gravity leaves a small droop on loaded joints.
    np.testing.assert_allclose(reached, sent, atol=1.5)


def test_torque_off_on_the_bus_lets_the_arm_sag(bus, tmp_path):
    with torque_guard(connected(bus, tmp_path)) as arm:
        held = arm.read_positions(np.zeros(6))
        bus.quiesce()
        for _ in range(30):
            bus.advance(1 / 30)
        still = arm.read_positions(np.zeros(6))
    # torque_guard turned torque off on the way out: the twin's actuators are off
    assert not any(bus.twin.torque())
    for _ in range(60):
        bus.advance(1 / 30)
    sagged = bus.twin.joint_positions()
    np.testing.assert_allclose(still, held, atol=1.0)  # on: the pose holds
    assert np.abs(sagged[:4] - held[:4]).max() > 10.0  # off: gravity wins


def test_power_on_after_a_reset_reports_the_new_pose(bus, tmp_path):
    bus.twin.reset(seed=3, joints=[5.0, -80.0, 50.0, 90.0, 0.0, 30.0])
    with bus.lock:
        bus.power_on()
    with torque_guard(connected(bus, tmp_path)) as arm:
        read = arm.read_positions(np.zeros(6))
    np.testing.assert_allclose(read[:5], [5.0, -80.0, 50.0, 90.0, 0.0], atol=0.2)
