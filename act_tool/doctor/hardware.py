"""Serial ports with Feetech servos answering, and cameras that open.

The servo check is read-only: a PING and a read of Model_Number per id at 1 Mbps through the
project's own bus; it never writes a register. The port is opened exclusively, so a port that a
running program holds is reported busy, never disturbed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from act_tool.doctor.report import Section, Status
from act_tool.hw import camera_probe, ports
from act_tool.hw.errors import (
    BusError,
    PortBusyError,
    PortError,
    PortNotFoundError,
    ServoError,
)
from act_tool.hw.feetech.bus import FeetechBus
from act_tool.hw.feetech.protocol import STS3215_MODEL_NUMBER
from act_tool.hw.feetech.transport import DEFAULT_BAUDRATE, SerialTransport
from act_tool.hw.so101.joints import SERVO_IDS  # 1..6

DIALOUT_FIX = "sudo usermod -aG dialout $USER  (then log out and in again)"
FIND_PORT_FIX = "plug the arm in; act-tool find-port tells which port is the arm's"
VIDEO_FIX = "sudo usermod -aG video $USER  (then log out and in again)"
SERIAL_TITLE = "Serial ports and Feetech servos (read-only ping, 1 Mbps)"
CAMERA_TITLE = "Cameras"


@dataclass(frozen=True)
class PortScan:
    """What answered on one port: servo id -> model number; or why the port did not open."""

    port: str
    models: dict[int, int] = field(default_factory=dict)
    faults: dict[int, tuple[str, ...]] = field(default_factory=dict)  # id -> its error bits
    error: str = ""
    reason: str = ""  # why it did not open: "permission", "missing", "busy" or "other"


def scan_port(
    port: str, ids: Sequence[int] = SERVO_IDS, baudrate: int = DEFAULT_BAUDRATE
) -> PortScan:
    """Ping `ids` on `port` and read the model number of each that answers. Never writes."""
    if os.path.exists(port) and not os.access(port, os.R_OK | os.W_OK):
        return PortScan(port, error="permission denied", reason="permission")
    bus = FeetechBus(SerialTransport(port, baudrate), read_retries=1)
    try:
        bus.connect()
    except PortNotFoundError:
        return PortScan(port, error="no such device", reason="missing")
    except PortError as e:
        cause = e.__cause__
        if getattr(cause, "errno", None) == errno.EACCES:
            return PortScan(port, error="permission denied", reason="permission")
        reason = "busy" if isinstance(e, PortBusyError) else "other"
        return PortScan(port, error=str(cause or e), reason=reason)
    models: dict[int, int] = {}
    faults: dict[int, tuple[str, ...]] = {}
    try:
        for servo_id in ids:
            try:
                bus.ping(servo_id)
            except ServoError as e:  # it answers, with error bits (overload, voltage, ...)
                faults[servo_id] = e.names
            except BusError:
                continue
            try:
                models[servo_id] = bus.model_number(servo_id)
            except ServoError as e:
                faults[servo_id] = e.names
            except BusError:
                continue
    except PortError as e:  # unplugged during the scan: what answered until then stands
        return PortScan(port, models, faults, error=str(e), reason="other")
    finally:
        bus.close()
    return PortScan(port, models, faults)


def serial_section(
    extra_ports: Sequence[str] = (),
    list_ports: Callable[[], list[str]] | None = None,
) -> Section:
    """Every serial port pyserial lists (or `list_ports` gives), plus `extra_ports`, each with
    the servos that answer."""
    section = Section(SERIAL_TITLE)
    # USB serial adapters only (an SO-101's bus is one): a ping on a built-in UART, a modem or a
    # board that resets when its port opens is not ours to send; --port adds any other
    listed = (list_ports or ports.list_usb_serial_ports)()
    found = list(dict.fromkeys([*listed, *extra_ports]))
    if not listed:
        section.add(
            Status.ABSENT,
            "ports",
            "no USB serial ports found" + (" (besides --port)" if extra_ports else ""),
            FIND_PORT_FIX,
        )
    scans = [scan_port(p) for p in found]
    for scan in scans:
        _report_scan(section, scan)
    section.data["ports"] = [
        {"port": s.port, "servos": {str(k): v for k, v in s.models.items()}, "error": s.error}
        for s in scans
    ]
    return section


def _report_scan(section: Section, scan: PortScan) -> None:
    if scan.reason == "permission":
        section.add(Status.PROBLEM, scan.port, "permission denied", DIALOUT_FIX)
        return
    if scan.reason == "missing":
        section.add(Status.PROBLEM, scan.port, "no such device", FIND_PORT_FIX)
        return
    if scan.error:
        fix = f"close the program that holds it (lsof {scan.port})" if scan.reason == "busy" else ""
        section.add(Status.PROBLEM, scan.port, f"failed: {scan.error}", fix)
        return
    for servo_id, names in sorted(scan.faults.items()):
        section.add(
            Status.PROBLEM,
            scan.port,
            f"servo {servo_id} answers with error bits: {', '.join(names)}",
            "let it cool down, check the supply voltage and that the joint is not blocked",
        )
    if not scan.models and not scan.faults:
        section.add(Status.ABSENT, scan.port, "no Feetech servo answers (not an arm's bus?)")
        return
    ids = sorted(scan.models)
    wrong = {i: m for i, m in scan.models.items() if m != STS3215_MODEL_NUMBER}
    models = sorted(set(scan.models.values()))
    text = f"servos {_ids(ids)} answer, model {', '.join(map(str, models))}"
    text += " (STS3215)" if not wrong else ""
    silent = [i for i in SERVO_IDS if i not in scan.models and i not in scan.faults]
    if wrong:
        names = ", ".join(f"id {i}: {m}" for i, m in sorted(wrong.items()))
        section.add(
            Status.PROBLEM,
            scan.port,
            f"{text}; not STS3215 ({names})",
            "an SO-101 has STS3215 servos (model 777): check the arm",
        )
    elif silent:
        section.add(
            Status.PROBLEM,
            scan.port,
            f"{text}; {_ids(silent)} silent",
            "check the servo cables and the power supply (and each servo's id)",
        )
    else:
        section.add(Status.OK, scan.port, text)


def _ids(ids: Sequence[int]) -> str:
    ids = list(ids)
    if len(ids) > 2 and ids == list(range(ids[0], ids[-1] + 1)):
        return f"{ids[0]}-{ids[-1]}"
    return ",".join(map(str, ids))


def camera_section(
    extra_sources: Sequence[str] = (),
    candidates: Callable[[], list[str]] | None = None,
    seconds: float = camera_probe.PROBE_S,
) -> Section:
    """Every camera device here (or that `candidates` gives), plus `extra_sources` (e.g. a video
    file), opened and read."""
    section = Section(CAMERA_TITLE)
    devices = (candidates or camera_probe.camera_candidates)()
    sources = list(dict.fromkeys([*devices, *extra_sources]))
    if not devices:
        section.add(
            Status.ABSENT,
            "cameras",
            "no cameras found" + (" (besides --camera)" if extra_sources else ""),
            "plug in a USB camera (or pass --camera FILE to check a video file)",
        )
    probes = []
    for source in sources:
        if source.startswith("/dev/") and os.path.exists(source) and not os.access(source, os.R_OK):
            section.add(Status.PROBLEM, source, "permission denied", VIDEO_FIX)
            continue
        probe = camera_probe.probe_camera(source, seconds)
        probes.append(probe)
        if probe.opened:
            section.add(
                Status.OK,
                source,
                f"{probe.width}x{probe.height}, asked {probe.requested_fps:g} "
                f"fps, delivered {probe.delivered_fps:.1f} fps",
            )
        else:
            section.add(Status.ABSENT, source, f"does not deliver frames: {probe.error}")
    fragment = camera_probe.cameras_fragment(probes)
    if fragment:
        section.add(Status.OK, "for run", fragment)
    section.data["cameras"] = [p.to_json() for p in probes]
    return section
