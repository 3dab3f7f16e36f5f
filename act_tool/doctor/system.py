"""Real-time priority permission, the digital twin's offscreen GL, and LeRobot calibration files.

The GL check renders one frame of the twin in a child process (`python -c`), so a crashing
OpenGL driver cannot take the doctor down, and MuJoCo is never imported here.
"""

from __future__ import annotations

import json
import subprocess
import sys

from act_tool import gpu
from act_tool.doctor.report import Section, Status
from act_tool.hw.so101.calibration import ROBOT_FOLDERS, calibration_root, load_calibration
from act_tool.runtime import realtime

REALTIME_TITLE = "Real-time priority"
TWIN_TITLE = "Digital twin (MuJoCo, offscreen GL)"
CALIBRATION_TITLE = "LeRobot calibration files"
RTPRIO_FIX = (
    f'echo "$USER - rtprio {realtime.DEFAULT_PRIORITY}" | sudo tee -a '
    "/etc/security/limits.conf  (then log in again)"
)
GL_TIMEOUT_S = 120.0

# Run in a child process: render one frame of the twin as act_tool.sim does it.
_GL_PROBE = """
import json, sys
try:
    import numpy as np
    import mujoco
    from act_tool.sim.render import gl_platform
    from act_tool.sim.twin import Twin
    with Twin() as twin:
        twin.render("front", np.empty((8, 8, 3), dtype=np.uint8))
    print(json.dumps({"mujoco": mujoco.__version__, "platform": gl_platform()}))
except Exception as e:
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
"""


def realtime_section() -> Section:
    """Whether this user may give the control thread SCHED_FIFO priority."""
    section = Section(REALTIME_TITLE)
    priority = realtime.DEFAULT_PRIORITY
    if not sys.platform.startswith("linux"):
        section.add(Status.ABSENT, "SCHED_FIFO", "Linux only: the loop runs at normal priority")
        allowed = False
    elif realtime.permitted(priority):
        section.add(Status.OK, "SCHED_FIFO", f"allowed at priority {priority} (--rt-priority)")
        allowed = True
    else:
        section.add(
            Status.PROBLEM,
            "SCHED_FIFO",
            f"not allowed at priority {priority}: the control loop runs at normal priority",
            RTPRIO_FIX,
        )
        allowed = False
    section.data = {"priority": priority, "permitted": allowed}
    return section


def twin_section(timeout_s: float = GL_TIMEOUT_S) -> Section:
    """Is MuJoCo installed, and can it render offscreen here (EGL, else OSMesa)?"""
    section = Section(TWIN_TITLE)
    if not gpu.module_installed("mujoco"):
        section.add(Status.ABSENT, "MuJoCo", "not installed", "pip install 'act-tool[sim]'")
        section.data = {"mujoco": None}
        return section
    try:
        done = subprocess.run(
            [sys.executable, "-c", _GL_PROBE],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        lines = done.stdout.strip().splitlines()
        result = json.loads(lines[-1]) if lines else {"error": _crash(done)}
    except subprocess.TimeoutExpired:
        result = {"error": f"rendering one frame took over {timeout_s:g} s"}
    except json.JSONDecodeError:
        result = {"error": f"unexpected output: {done.stdout.strip()[-200:]}"}
    if "error" in result:
        from act_tool.sim.render import INSTALL_HINT  # no MuJoCo import: a string constant

        section.add(Status.PROBLEM, "rendering", f"fails: {result['error']}", INSTALL_HINT)
    else:
        section.add(
            Status.OK, "MuJoCo", f"{result['mujoco']}, renders offscreen with {result['platform']}"
        )
    section.data = result
    return section


def _crash(done: subprocess.CompletedProcess) -> str:
    tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
    return f"the probe exited with status {done.returncode}: {tail[0]}"


def calibration_section() -> Section:
    """The robot ids with an SO-101 calibration file (so_follower/; 0.4.x: so101_follower/)."""
    section = Section(CALIBRATION_TITLE)
    root = calibration_root() / "robots"
    found: dict[str, list[str]] = {}
    for folder in ROBOT_FOLDERS:
        paths = sorted((root / folder).glob("*.json")) if (root / folder).is_dir() else []
        found[folder] = [p.stem for p in paths]
        if not paths:
            continue
        good, bad = [], []
        for path in paths:
            try:
                load_calibration(path)
                good.append(path.stem)
            except Exception as e:
                bad.append(f"{path.name}: {e}")
        if good:
            section.add(Status.OK, folder, f"robot ids: {', '.join(good)}  ({root / folder})")
        for text in bad:
            section.add(
                Status.PROBLEM,
                folder,
                f"unreadable {text}",
                "recalibrate: lerobot-calibrate --robot.type=so101_follower ...",
            )
    if not any(found.values()):
        section.add(
            Status.ABSENT,
            "files",
            f"no SO-101 calibration files under {root}",
            "lerobot-calibrate --robot.type=so101_follower --robot.port=PORT --robot.id=ID "
            "(or act-tool emulate --robot-id ID for the virtual arm)",
        )
    section.data = {"root": str(root), "robot_ids": found}
    return section
