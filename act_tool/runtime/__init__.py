"""Running an exported policy on the robot: runners, action execution, the control loop.

No torch or lerobot here (only the PyTorch runner imports them, when chosen):

    from act_tool.runtime import RunOptions, run
    summary = run(RunOptions(engine=Path("act.plan"), port="/dev/ttyACM0", robot_id="arm1",
                             cameras="front=0,handeye=1"))

Pieces: `runners.open_runner` (TensorRT / ONNX Runtime / PyTorch behind one interface),
`executor` (LeRobot's action queue and temporal ensembler), `scheduling` (sync or background
inference), `loop.run_loop` (the fixed-rate loop), `preflight`, `telemetry`, `session.run`.
"""

from act_tool.runtime.executor import ChunkExecutor, EnsembleExecutor, make_executor
from act_tool.runtime.loop import LoopConfig, LoopError, run_loop
from act_tool.runtime.preflight import PreflightError
from act_tool.runtime.runners import Runner, RunnerOptions, backend_for, open_runner
from act_tool.runtime.session import RunOptions, run
from act_tool.runtime.telemetry import RunSummary

__all__ = [
    "ChunkExecutor",
    "EnsembleExecutor",
    "LoopConfig",
    "LoopError",
    "PreflightError",
    "RunOptions",
    "RunSummary",
    "Runner",
    "RunnerOptions",
    "backend_for",
    "make_executor",
    "open_runner",
    "run",
    "run_loop",
]
