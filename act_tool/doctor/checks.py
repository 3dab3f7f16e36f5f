"""Every doctor check in order, each run on its own so one failure never hides the others.

sections = run_doctor(DoctorOptions(ports=("/dev/ttyACM0",), cameras=("clip.mp4",)))
print(render_text(sections))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from act_tool.doctor import hardware, software, system
from act_tool.doctor.report import Section, run_check


@dataclass(frozen=True)
class DoctorOptions:
    """Ports and camera sources to check besides those found, and how long to read a camera."""

    ports: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    camera_seconds: float = 1.0
    twin: bool = True  # render a frame of the digital twin (a child process, a second or two)

    def __post_init__(self) -> None:
        if self.camera_seconds <= 0:
            raise ValueError("camera_seconds must be > 0")


def checks(options: DoctorOptions) -> list[tuple[str, Callable[[], Section]]]:
    """(title, check) pairs in screen order."""
    found: list[tuple[str, Callable[[], Section]]] = [
        (software.PYTHON_TITLE, software.python_section),
        (software.VERSIONS_TITLE, software.versions_section),
        (software.INFERENCE_TITLE, software.inference_section),
        (hardware.SERIAL_TITLE, lambda: hardware.serial_section(options.ports)),
        (
            hardware.CAMERA_TITLE,
            lambda: hardware.camera_section(options.cameras, seconds=options.camera_seconds),
        ),
        (system.REALTIME_TITLE, system.realtime_section),
    ]
    if options.twin:
        found.append((system.TWIN_TITLE, system.twin_section))
    found.append((system.CALIBRATION_TITLE, system.calibration_section))
    return found


def run_doctor(
    options: DoctorOptions | None = None, progress: Callable[[str], None] | None = None
) -> list[Section]:
    """Run every check; `progress(title)` is called before each."""
    sections = []
    for title, check in checks(options or DoctorOptions()):
        if progress is not None:
            progress(title)
        sections.append(run_check(title, check))
    return sections
