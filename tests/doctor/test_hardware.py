"""The serial check pings servos read-only; missing servos, wrong models and closed ports say why."""

from __future__ import annotations

import pytest

from act_tool.doctor import hardware
from act_tool.doctor.report import Section, Status
from act_tool.hw.emulator import Fault
from act_tool.hw.feetech.protocol import Instruction, Reg
from act_tool.hw.feetech.transport import SerialTransport


class RecordingTransport(SerialTransport):
    """A serial transport that keeps every packet written."""

    packets: list[bytes] = []

    def write(self, data: bytes | bytearray) -> None:
        RecordingTransport.packets.append(bytes(data))
        super().write(data)


def test_scan_only_pings_and_reads(virtual_arm, monkeypatch):
    RecordingTransport.packets = []
    monkeypatch.setattr(hardware, "SerialTransport", RecordingTransport)
    before = virtual_arm.state()
    scan = hardware.scan_port(virtual_arm.port)
    assert scan.models == {i: 777 for i in range(1, 7)} and not scan.error
    instructions = {packet[4] for packet in RecordingTransport.packets}
    assert instructions == {Instruction.PING, Instruction.READ}
    assert virtual_arm.state() == before


def _report(scan) -> Section:
    section = Section("t")
    hardware._report_scan(section, scan)
    return section


def test_a_silent_servo_is_named(virtual_arm):
    virtual_arm.inject(4, Fault(silent=True))
    (item,) = _report(hardware.scan_port(virtual_arm.port)).items
    assert item.status is Status.PROBLEM
    assert "servos 1,2,3,5,6 answer" in item.detail and "4 silent" in item.detail
    assert "power supply" in item.fix


def test_a_servo_answering_with_error_bits_is_not_called_silent(virtual_arm):
    virtual_arm.inject(6, Fault(error_bits=32))  # overload, as a gripper squeezing the cube
    scan = hardware.scan_port(virtual_arm.port)
    assert scan.faults == {6: ("overload",)}
    fault, summary = _report(scan).items
    assert fault.status is Status.PROBLEM and "servo 6 answers with error bits: overload" in (
        fault.detail
    )
    assert "silent" not in summary.detail


def test_a_servo_of_another_model_is_named(virtual_arm):
    virtual_arm.poke(2, Reg.MODEL_NUMBER, 1234)
    (item,) = _report(hardware.scan_port(virtual_arm.port)).items
    assert item.status is Status.PROBLEM and "id 2: 1234" in item.detail


def test_a_port_without_permission_gets_the_dialout_fix(virtual_arm, monkeypatch):
    monkeypatch.setattr(hardware.os, "access", lambda path, mode: False)
    (item,) = _report(hardware.scan_port(virtual_arm.port)).items
    assert item.detail == "permission denied" and "usermod -aG dialout" in item.fix


def test_a_port_that_does_not_exist(tmp_path):
    (item,) = _report(hardware.scan_port(str(tmp_path / "ttyACM9"))).items
    assert item.status is Status.PROBLEM and item.detail == "no such device"


def test_a_busy_port_says_so(virtual_arm):
    holder = SerialTransport(virtual_arm.port)
    holder.open()  # exclusive: the doctor must not share it
    try:
        scan = hardware.scan_port(virtual_arm.port)
    finally:
        holder.close()
    assert scan.reason == "busy"
    (item,) = _report(scan).items
    assert item.status is Status.PROBLEM and "lsof" in item.fix


def test_a_port_where_nothing_answers(monkeypatch, virtual_arm):
    virtual_arm.inject(None, Fault(silent=True))
    (item,) = _report(hardware.scan_port(virtual_arm.port)).items
    assert item.status is Status.ABSENT and "no Feetech servo answers" in item.detail


@pytest.mark.parametrize(
    ("ids", "text"), [([1, 2, 3, 4, 5, 6], "1-6"), ([1, 3], "1,3"), ([5], "5")]
)
def test_id_lists(ids, text):
    assert hardware._ids(ids) == text


def test_camera_section_reports_sources_that_do_not_open(tmp_path):
    bad = tmp_path / "not-a-video.avi"
    bad.write_bytes(b"garbage")
    section = hardware.camera_section([str(bad)], candidates=lambda: [], seconds=0.2)
    assert section.items[-1].status is Status.ABSENT
    assert "does not deliver frames" in section.items[-1].detail
    assert section.data["cameras"][0]["opened"] is False
