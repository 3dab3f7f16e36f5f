"""find-port: the port that disappears when the arm is unplugged, with the listing faked."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.hw import ports
from act_tool.hw.ports import UNPLUG_PROMPT, PortSearch, find_arm_port


def _lister(*listings):
    """A port lister that returns each listing in turn."""
    calls = iter(listings)
    return lambda: list(next(calls))


def _search(*listings):
    prompts: list[str] = []
    result = find_arm_port(_lister(*listings), prompts.append, log=lambda _: None, settle_s=0)
    return result, prompts


def test_the_port_that_disappears_is_the_arms():
    result, prompts = _search(["/dev/ttyACM0", "/dev/ttyS0"], ["/dev/ttyS0"])
    assert prompts == [UNPLUG_PROMPT]
    assert result.port == "/dev/ttyACM0"
    assert "/dev/ttyACM0" in result.message and "Reconnect" in result.message


def test_no_port_disappears():
    result, _ = _search(["/dev/ttyACM0"], ["/dev/ttyACM0"])
    assert result.port is None and "no port disappeared" in result.message


def test_two_ports_disappear():
    result, _ = _search(["/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyS0"], ["/dev/ttyS0"])
    assert result.port is None and result.removed == ("/dev/ttyACM0", "/dev/ttyACM1")
    assert "2 ports disappeared (/dev/ttyACM0, /dev/ttyACM1)" in result.message


def test_a_port_that_appears_is_pointed_out():
    result, _ = _search(["/dev/ttyS0"], ["/dev/ttyS0", "/dev/ttyACM0"])
    assert result.port is None and "A port appeared instead (/dev/ttyACM0)" in result.message


def test_no_ports_at_all_asks_nothing():
    result, prompts = _search([])
    assert prompts == [] and result.port is None
    assert "no serial ports found" in result.message


def test_windows_com_ports():
    result = PortSearch(("COM3", "COM4"), ("COM3",))
    assert result.port == "COM4"


def test_list_serial_ports_is_sorted(monkeypatch):
    class P:
        def __init__(self, device):
            self.device = device

    from serial.tools import list_ports

    monkeypatch.setattr(list_ports, "comports", lambda: [P("/dev/ttyUSB1"), P("/dev/ttyACM0")])
    assert ports.list_serial_ports() == ["/dev/ttyACM0", "/dev/ttyUSB1"]


def test_the_doctor_pings_usb_serial_adapters_only(monkeypatch):
    class P:
        def __init__(self, device, vid):
            self.device, self.vid = device, vid

    from serial.tools import list_ports

    found = [P("/dev/ttyS0", None), P("/dev/ttyACM0", 0x1A86), P("/dev/ttyUSB0", 0x0403)]
    monkeypatch.setattr(list_ports, "comports", lambda: found)
    assert ports.list_usb_serial_ports() == ["/dev/ttyACM0", "/dev/ttyUSB0"]


@pytest.mark.parametrize(
    ("after", "code", "text"),
    [
        (["/dev/ttyS0"], 0, "the arm's port is /dev/ttyACM0"),
        (["/dev/ttyS0", "/dev/ttyACM0"], 1, "no port disappeared"),
    ],
)
def test_find_port_command(monkeypatch, after, code, text):
    monkeypatch.setattr(ports, "list_serial_ports", _lister(["/dev/ttyACM0", "/dev/ttyS0"], after))
    monkeypatch.setattr(ports, "SETTLE_S", 0.0)
    result = CliRunner().invoke(app, ["find-port"], input="\n")
    assert result.exit_code == code, result.output
    assert UNPLUG_PROMPT in result.output
    assert text in result.output
