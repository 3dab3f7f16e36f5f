"""A sync-read split in two (send, then receive): the control tick works while the answers are
on the wire. The answers must reach the right transaction whatever happens in between."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from act_tool.hw.emulator import EmulatorConfig, Fault, VirtualArm
from act_tool.hw.errors import BusError
from act_tool.hw.feetech import FeetechBus, Reg, SerialTransport
from act_tool.hw.so101 import ArmConfig, SO101Arm

from .conftest import TEST_MARGIN_S

IDS = (1, 2, 3, 4, 5, 6)


@pytest.fixture(scope="module")
def wired() -> Iterator[VirtualArm]:
    """The virtual arm with 1 Mbps wire time: six answers take 0.5 ms to arrive."""
    with VirtualArm(EmulatorConfig(wire_time=True)) as virtual:
        yield virtual


def present(virtual: VirtualArm) -> list[int]:
    return [virtual.register(i, Reg.PRESENT_POSITION) for i in IDS]


def test_send_then_receive_reads_the_positions(wired: VirtualArm):
    with FeetechBus(SerialTransport(wired.port), timeout_margin_s=TEST_MARGIN_S) as bus:
        reader = bus.sync_reader(Reg.PRESENT_POSITION, IDS)
        out = np.zeros(6, dtype=np.int64)
        for pause in (0.0, 0.0002, 0.002):  # before, during and after the answers arrive
            reader.send()
            time.sleep(pause)
            reader.receive(out)
            assert out.tolist() == present(wired)


def test_receive_without_send_is_refused(wired: VirtualArm):
    with FeetechBus(SerialTransport(wired.port), timeout_margin_s=TEST_MARGIN_S) as bus:
        reader = bus.sync_reader(Reg.PRESENT_POSITION, IDS)
        with pytest.raises(BusError, match="receive\\(\\) without a send\\(\\)"):
            reader.receive(np.zeros(6, dtype=np.int64))


def test_a_transaction_after_an_abandoned_send_gets_its_own_answer(wired: VirtualArm):
    """The abandoned read's answers are still on the wire. Servo 3's has the same id and
    length as an answer to reading its Goal_Position, so without waiting them out the read
    below would return servo 3's present position."""
    with FeetechBus(SerialTransport(wired.port), timeout_margin_s=TEST_MARGIN_S) as bus:
        bus.write(3, Reg.TORQUE_ENABLE, 0)  # the goal stays away from the present position
        goal = (wired.register(3, Reg.PRESENT_POSITION) + 300) % 4096
        bus.write(3, Reg.GOAL_POSITION, goal)
        reader = bus.sync_reader(Reg.PRESENT_POSITION, IDS)
        for _ in range(5):
            reader.send()
            assert bus.read(3, Reg.GOAL_POSITION) == goal
        # The abandoned read is gone: receiving it now is an error, not stale data.
        reader.send()
        bus.sync_write(Reg.GOAL_POSITION, {3: goal})
        with pytest.raises(BusError, match="another transaction came in between"):
            reader.receive(np.zeros(6, dtype=np.int64))


def test_receive_asks_again_for_a_lost_answer(wired: VirtualArm):
    transport = SerialTransport(wired.port)
    with FeetechBus(transport, read_retries=1, timeout_margin_s=TEST_MARGIN_S) as bus:
        reader = bus.sync_reader(Reg.PRESENT_POSITION, IDS)
        out = np.zeros(6, dtype=np.int64)
        wired.inject(2, Fault(silent=True, count=1))
        reader.send()
        reader.receive(out)
        assert out.tolist() == present(wired)
    wired.clear_faults()


def test_arm_split_read_and_torque_off_with_a_read_in_flight(wired: VirtualArm, tmp_path):
    from act_tool.hw.emulator import write_calibration_file

    cal = write_calibration_file("split", root=tmp_path)
    with SO101Arm(ArmConfig(port=wired.port, calibration_path=cal)) as arm:
        whole, split = np.zeros(6, np.float32), np.zeros(6, np.float32)
        arm.read_positions(whole)
        arm.start_read()
        np.testing.assert_array_equal(arm.finish_read(split), whole)
        arm.start_read()  # the caller fails before finishing: torque off still works
        arm.disable_torque()
        assert [wired.register(i, Reg.TORQUE_ENABLE) for i in IDS] == [0] * 6
