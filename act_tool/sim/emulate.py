"""`act-tool emulate --sim`: the digital twin on the wall clock behind the virtual servo bus, for
any client (LeRobot's SO101Follower, act-tool run on the printed port, a script), until Ctrl-C.
The cameras are the twin's and only act-tool's `--port sim` sees them; a client of the pty gets
the arm."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack

from act_tool.hw.so101.calibration import ArmCalibration
from act_tool.sim.bus import TwinBus
from act_tool.sim.realtime import RealtimeTwin
from act_tool.sim.twin import Twin


def emulate_twin(
    calibration: ArmCalibration,
    seed: int,
    wire_time: bool,
    on_ready: Callable[[str], None],
    every_second: Callable[[Twin], None] | None = None,
) -> None:
    """Serve the twin until interrupted (KeyboardInterrupt propagates) or its thread fails."""
    with ExitStack() as stack:
        twin = Twin()
        layout = twin.reset(seed=seed)
        bus = stack.enter_context(TwinBus(twin, calibration, wire_time))
        driver = stack.enter_context(RealtimeTwin(bus))
        on_ready(bus.port)
        x, y = layout.cube_xy
        on_ready(
            f"  the cell of seed {seed}: cube at ({x:.3f}, {y:.3f}) m; time runs from torque on"
        )
        while driver.failure is None:
            time.sleep(1.0)
            if every_second is not None:
                with bus.lock:
                    every_second(twin)
        raise RuntimeError(f"the twin stopped: {driver.failure!r}")
