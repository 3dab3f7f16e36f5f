"""Running an exported policy on the robot: runners, action execution, the control loop.

No torch or lerobot here (only the PyTorch runner imports them, when chosen):

    from act_tool.runtime import ArmOptions, RunOptions, run
    summary = run(RunOptions(Path("act.plan"), ArmOptions("/dev/ttyACM0", robot_id="arm1"),
                             cameras="front=0,handeye=1"))

Pieces: `runners.open_runner` (TensorRT / ONNX Runtime / PyTorch behind one interface),
`executor` (LeRobot's action queue and temporal ensembler), `scheduling` (sync or background
inference), `frame_feed`, `loop.run_loop` (the fixed-rate loop), `preflight`, `telemetry`,
`arm_kinds` (what --port reaches), `session.run`. The names below import on first use, so a
module of this package can be imported without the rest.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ChunkExecutor": "executor",
    "EnsembleExecutor": "executor",
    "make_executor": "executor",
    "LoopConfig": "loop_config",
    "LoopError": "loop_config",
    "run_loop": "loop",
    "PreflightError": "preflight",
    "Runner": "runners",
    "RunnerOptions": "runners",
    "backend_for": "runners",
    "open_runner": "runners",
    "ArmOptions": "arm_kinds",
    "RunOptions": "session",
    "run": "session",
    "RunSummary": "telemetry",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'act_tool.runtime' has no attribute {name!r}")
    return getattr(importlib.import_module(f"act_tool.runtime.{_EXPORTS[name]}"), name)
