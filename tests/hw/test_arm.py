"""The SO-101 arm against the virtual arm: connect, configure, move, safety, torque off."""

from __future__ import annotations

import dataclasses
import signal
import threading
import time

import numpy as np
import pytest

from act_tool.hw.emulator import DEFAULT_CALIBRATION, EmulatorConfig, Fault, VirtualArm
from act_tool.hw.errors import (
    BusTimeoutError,
    CalibrationError,
    ChecksumError,
    SafetyError,
    ServoError,
)
from act_tool.hw.feetech import Reg
from act_tool.hw.feetech.protocol import ErrorBit
from act_tool.hw.so101 import ArmConfig, SO101Arm, Units, save_calibration
from tests.tolerances import U32

from .test_bus import tick_memory

IDS = (1, 2, 3, 4, 5, 6)


def torque(virtual: VirtualArm) -> list[int]:
    return [virtual.register(i, Reg.TORQUE_ENABLE) for i in IDS]


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_constructor_does_no_io(arm_config: ArmConfig):
    arm = SO101Arm(dataclasses.replace(arm_config, port="/dev/does-not-exist-42"))
    assert not arm.is_connected


def test_connect_configures_like_lerobot(arm_config: ArmConfig, virtual_arm: VirtualArm):
    with SO101Arm(arm_config) as arm:
        assert arm.torque_enabled
        state = virtual_arm.state()
        for i in IDS:
            s = state[i]
            assert s["RETURN_DELAY_TIME"] == 0
            assert s["MAXIMUM_ACCELERATION"] == 254 and s["ACCELERATION"] == 254
            assert s["OPERATING_MODE"] == 0
            assert (s["P_COEFFICIENT"], s["I_COEFFICIENT"], s["D_COEFFICIENT"]) == (16, 0, 32)
            assert s["PHASE"] & 0x10 == 0
            assert s["TORQUE_ENABLE"] == 1 and s["LOCK"] == 1
            assert s["GOAL_POSITION"] == s["PRESENT_POSITION"]  # no jump on torque on
        g = state[6]
        assert (g["MAX_TORQUE_LIMIT"], g["PROTECTION_CURRENT"], g["OVERLOAD_TORQUE"]) == (
            500,
            250,
            25,
        )
    assert torque(virtual_arm) == [0] * 6
    assert virtual_arm.register(1, Reg.LOCK) == 0


def test_no_jump_on_torque_on(arm_config: ArmConfig, virtual_arm: VirtualArm):
    """The servos keep a stored Goal_Position across torque off/on: one far from where the arm
    stands must not pull it there on connect (the arm writes goal = present first)."""
    start = [virtual_arm.register(i, Reg.PRESENT_POSITION) for i in IDS]
    for i, cal in zip(IDS, DEFAULT_CALIBRATION.joints, strict=True):
        virtual_arm.poke(i, Reg.GOAL_POSITION, cal.range_max - 20)  # far: mid-range + ~1000
    with SO101Arm(arm_config) as arm:
        assert arm.torque_enabled
        time.sleep(0.3)  # long enough to travel hundreds of counts toward a stale goal
        assert [virtual_arm.register(i, Reg.PRESENT_POSITION) for i in IDS] == start
        assert [virtual_arm.register(i, Reg.GOAL_POSITION) for i in IDS] == start


@pytest.mark.parametrize("units", list(Units))
def test_read_and_move(arm_config: ArmConfig, virtual_arm: VirtualArm, units: Units):
    cfg = dataclasses.replace(arm_config, units=units)
    out = np.zeros(6, dtype=np.float32)
    with SO101Arm(cfg) as arm:
        arm.read_positions(out)
        # the virtual arm starts at mid-range: 0 in degrees and in -100..100, gripper 50
        np.testing.assert_allclose(out[:4], 0.0, atol=0.1)
        assert out[5] == pytest.approx(50.0, abs=0.1)
        goal = np.array([10, -10, 5, -5, 20, 70], dtype=np.float32)
        sent = arm.write_goals(goal)
        np.testing.assert_array_equal(sent, goal)  # within every limit: sent as given

        def arrived() -> bool:
            return bool(np.allclose(arm.read_positions(out), goal, atol=0.2))

        wait_until(arrived)


def test_goals_are_clamped_to_the_calibrated_range(arm_config, virtual_arm):
    with SO101Arm(arm_config) as arm:
        arm.write_goals(np.full(6, 1e4, dtype=np.float32))
        goals = [virtual_arm.register(i, Reg.GOAL_POSITION) for i in IDS]
        assert goals == [c.range_max for c in DEFAULT_CALIBRATION.joints]
        arm.write_goals(np.full(6, -1e4, dtype=np.float32))
        goals = [virtual_arm.register(i, Reg.GOAL_POSITION) for i in IDS]
        assert goals == [c.range_min for c in DEFAULT_CALIBRATION.joints]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_goals_are_refused(arm_config, virtual_arm, bad):
    with SO101Arm(arm_config) as arm:
        before = [virtual_arm.register(i, Reg.GOAL_POSITION) for i in IDS]
        goal = np.zeros(6, dtype=np.float32)
        goal[2] = bad
        with pytest.raises(SafetyError):
            arm.write_goals(goal)
        assert [virtual_arm.register(i, Reg.GOAL_POSITION) for i in IDS] == before


@pytest.mark.parametrize("limit", [5.0, (5.0, 5.0, 5.0, 5.0, 5.0, 2.0)])
def test_max_relative_target(arm_config, virtual_arm, limit):
    cfg = dataclasses.replace(arm_config, max_relative_target=limit)
    with SO101Arm(cfg) as arm:
        present = arm.read_positions(np.zeros(6, dtype=np.float32))
        sent = arm.write_goals(present + 30)
        caps = np.broadcast_to(np.array(limit), 6)
        # One float32 rounding of the sum (and the float64 reference's, far smaller).
        np.testing.assert_allclose(sent, present + caps, rtol=2 * U32, atol=0)


def test_bad_max_relative_target():
    with pytest.raises(ValueError):
        ArmConfig(port="x", robot_id="a", max_relative_target=(1.0, 2.0))
    with pytest.raises(ValueError):
        ArmConfig(port="x", robot_id="a", max_relative_target=-1.0)
    with pytest.raises(CalibrationError):
        ArmConfig(port="x")


def test_mismatching_arm_is_refused(arm_config, virtual_arm):
    virtual_arm.poke(3, Reg.MIN_POSITION_LIMIT, 100)
    with pytest.raises(CalibrationError) as e:
        SO101Arm(arm_config).connect()
    text = str(e.value)
    assert "elbow_flex" in text
    assert "lerobot-calibrate --robot.type=so101_follower" in text
    assert f"--robot.port={arm_config.port}" in text and "--robot.id=test_arm" in text
    assert torque(virtual_arm) == [0] * 6


def test_mismatching_file_is_refused(arm_config, virtual_arm, tmp_path):
    joints = list(DEFAULT_CALIBRATION.joints)
    joints[1] = dataclasses.replace(joints[1], homing_offset=joints[1].homing_offset + 1)
    path = save_calibration(type(DEFAULT_CALIBRATION)(tuple(joints)), tmp_path / "other.json")
    cfg = dataclasses.replace(arm_config, robot_id=None, calibration_path=path)
    with pytest.raises(CalibrationError, match="shoulder_lift"):
        SO101Arm(cfg).connect()
    assert torque(virtual_arm) == [0] * 6


def test_factory_arm_is_refused(calibration_root, arm_config):
    with VirtualArm(EmulatorConfig(calibration=None, wire_time=False)) as factory:
        cfg = dataclasses.replace(arm_config, port=factory.port)
        with pytest.raises(CalibrationError):
            SO101Arm(cfg).connect()


def test_missing_calibration_file(arm_config):
    cfg = dataclasses.replace(arm_config, robot_id="nobody")
    with pytest.raises(CalibrationError, match="lerobot-calibrate"):
        SO101Arm(cfg).connect()


@pytest.mark.parametrize(
    ("fault", "error", "strict"),
    [
        (Fault(silent=True), BusTimeoutError, False),
        (Fault(bad_checksum=True), ChecksumError, False),
        (Fault(error_bits=0x20), ServoError, True),
        (Fault(error_bits=0x04), ServoError, True),
        (Fault(delay_s=0.6), BusTimeoutError, False),
    ],
)
def test_fault_in_the_loop_raises_and_leaves_torque_off(
    arm_config, virtual_arm, fault, error, strict
):
    out = np.zeros(6, dtype=np.float32)
    cfg = dataclasses.replace(arm_config, strict_servo_errors=strict)
    with pytest.raises(error), SO101Arm(cfg) as arm:
        arm.read_positions(out)
        arm.write_goals(out)
        virtual_arm.inject(3, fault)
        for _ in range(3):
            arm.read_positions(out)
            arm.write_goals(out)
    time.sleep(0.7 if fault.delay_s else 0)
    assert torque(virtual_arm) == [0] * 6


def test_error_bits_in_the_loop_are_recorded_not_fatal(arm_config, virtual_arm):
    """A gripper squeezing an object reports overload: the run goes on, the arm counts it."""
    out = np.zeros(6, dtype=np.float32)
    with SO101Arm(arm_config) as arm:
        arm.read_positions(out)
        assert arm.servo_errors == {} and arm.servo_error_report() == ""
        virtual_arm.inject(6, Fault(error_bits=ErrorBit.OVERLOAD, count=5))
        virtual_arm.inject(3, Fault(error_bits=ErrorBit.OVERHEAT | ErrorBit.VOLTAGE, count=1))
        arm.read_positions(out)
        assert arm.servo_errors == {"elbow_flex": ("voltage", "overheat"), "gripper": ("overload",)}
        for _ in range(9):
            arm.read_positions(out)
            arm.write_goals(out)
        assert arm.torque_enabled
        assert arm.servo_errors == {}  # the last read was clean
        assert arm.servo_error_counts() == {
            "elbow_flex": {"voltage": 1, "overheat": 1},
            "gripper": {"overload": 5},
        }
        report = arm.servo_error_report()
        assert "gripper overload in 5 reads" in report and "elbow_flex overheat in 1 read" in report
    assert torque(virtual_arm) == [0] * 6


def test_error_bits_on_connect_raise(arm_config, virtual_arm):
    virtual_arm.inject(2, Fault(error_bits=ErrorBit.ANGLE_SENSOR))
    with pytest.raises(ServoError, match="angle sensor"):
        SO101Arm(arm_config).connect()
    virtual_arm.clear_faults()
    assert torque(virtual_arm) == [0] * 6


def test_exception_leaves_torque_off(arm_config, virtual_arm):
    with pytest.raises(RuntimeError), SO101Arm(arm_config):
        assert torque(virtual_arm) == [1] * 6
        raise RuntimeError("policy crashed")
    assert torque(virtual_arm) == [0] * 6


def test_close_from_another_thread(arm_config, virtual_arm):
    previous = signal.getsignal(signal.SIGINT)
    arm = SO101Arm(arm_config)
    arm.connect()
    errors: list[BaseException] = []

    def close() -> None:
        try:
            arm.close()
        except BaseException as e:  # signal.signal outside the main thread would raise
            errors.append(e)

    worker = threading.Thread(target=close)
    worker.start()
    worker.join(10)
    assert errors == [] and torque(virtual_arm) == [0] * 6
    assert signal.getsignal(signal.SIGINT) is previous


def test_no_goals_after_disable(arm_config, virtual_arm):
    with SO101Arm(arm_config) as arm:
        arm.disable_torque()
        with pytest.raises(SafetyError):
            arm.write_goals(np.zeros(6, dtype=np.float32))
    with pytest.raises(SafetyError):
        arm.read_positions(np.zeros(6, dtype=np.float32))


def test_tick_allocates_nothing_after_warm_up(arm_config):
    cfg = dataclasses.replace(arm_config, max_relative_target=10.0)
    out = np.zeros(6, dtype=np.float32)
    with SO101Arm(cfg) as arm:

        def tick() -> None:
            arm.read_positions(out)
            arm.write_goals(out)

        kept, peak = tick_memory(tick)
    # (the smallest Python allocation is 16 bytes, so a per-tick leak would keep >= 16 KB; the
    # slack covers one-off allocations by other threads, which tracemalloc also sees)
    assert kept < 4096, f"{kept} bytes kept over 1000 ticks"
    # the bus's ~250 bytes plus numpy's small scalars (about 400 in all); np.clip, where= or a
    # reduction per call would add ~300-900 bytes each
    assert peak < 1024, f"a tick allocates up to {peak} bytes at once (p99)"
