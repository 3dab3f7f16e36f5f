"""torque_guard: any arm leaves the session with torque off, whatever signal ends it; a
signal arriving while torque goes off waits until it is off. Checked on the SO-101 against the
virtual arm, and on a fake arm."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest

from act_tool.hw.emulator import VirtualArm
from act_tool.hw.feetech import Reg
from act_tool.hw.so101 import SO101Arm
from act_tool.runtime.arm_guard import torque_guard
from act_tool.testing.fakes import FakeArm

IDS = (1, 2, 3, 4, 5, 6)


def torque(virtual: VirtualArm) -> list[int]:
    return [virtual.register(i, Reg.TORQUE_ENABLE) for i in IDS]


@pytest.mark.parametrize(
    ("sig", "exc"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, SystemExit)]
)
def test_signals_leave_torque_off(arm_config, virtual_arm, sig, exc):
    previous = signal.getsignal(sig)
    out = np.zeros(6, dtype=np.float32)
    with pytest.raises(exc), torque_guard(SO101Arm(arm_config)) as arm:
        os.kill(os.getpid(), sig)
        for _ in range(1000):  # the handler runs between bytecodes
            arm.read_positions(out)
    assert torque(virtual_arm) == [0] * 6
    assert signal.getsignal(sig) == previous


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_close_waits_for_torque_off(arm_config, virtual_arm, sig):
    """A second Ctrl-C (or SIGTERM) while torque goes off is held back: every servo still gets
    torque off and Lock 0, then the signal reaches the handler from before the guard."""
    received: list[int] = []
    previous = signal.signal(sig, lambda s, f: received.append(s))
    escaped: BaseException | None = None
    try:
        with torque_guard(SO101Arm(arm_config)) as arm:
            bus = arm.bus
            sync_write = bus.sync_write

            def interrupted_sync_write(reg, values):
                os.kill(os.getpid(), sig)  # arrives before the torque-off broadcast is sent
                for _ in range(100):  # handlers run between bytecodes
                    pass
                sync_write(reg, values)

            bus.sync_write = interrupted_sync_write
    except (KeyboardInterrupt, SystemExit) as e:  # a handler fired inside the arm's close()
        escaped = e
    try:
        assert escaped is None, f"{escaped!r} interrupted torque-off"
        assert torque(virtual_arm) == [0] * 6
        assert [virtual_arm.register(i, Reg.LOCK) for i in IDS] == [0] * 6
        assert received == [sig]  # delivered once torque was off, to the handler restored
    finally:
        signal.signal(sig, previous)


def test_any_arm_is_closed_and_handlers_restored_from_another_thread():
    """Off the main thread no handler can be set: the arm is still entered and closed."""
    previous = signal.getsignal(signal.SIGTERM)
    arm, errors = FakeArm(), []

    def session() -> None:
        try:
            with torque_guard(arm):
                assert arm.torque
                raise RuntimeError("policy crashed")
        except RuntimeError:
            pass
        except BaseException as e:
            errors.append(e)

    worker = threading.Thread(target=session)
    worker.start()
    worker.join(10)
    assert errors == [] and not arm.torque and not arm.connected
    assert signal.getsignal(signal.SIGTERM) is previous


def test_sigterm_unwinds_a_fake_arm_with_torque_off():
    previous = signal.getsignal(signal.SIGTERM)
    arm = FakeArm()
    with pytest.raises(SystemExit) as e, torque_guard(arm):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between bytecodes
            pass
    assert e.value.code == 128 + signal.SIGTERM
    assert not arm.torque and not arm.connected
    assert signal.getsignal(signal.SIGTERM) is previous
