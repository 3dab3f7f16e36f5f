"""The twin on the wall clock: `act-tool run --port sim` ticks a policy against the physics, the
twin's joints follow the goals the loop writes and torque ends off; `act-tool emulate --sim`
serves the same twin on a pty to an outside client (here the project's own SO101Arm with the
calibration file the emulator writes), whose goals move the joints as wall time passes and whose
torque off lets the arm sag. (Lockstep behind the bus is tests/sim/test_bus.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.sim import helpers

pytest.importorskip("mujoco", reason=helpers.NO_SIM)

import act_tool.sim.arm as sim_arm  # noqa: E402
from act_tool.cli import app  # noqa: E402
from act_tool.hw.feetech.protocol import Reg  # noqa: E402
from act_tool.hw.so101 import ArmConfig, SO101Arm  # noqa: E402
from act_tool.sim.bus import TwinBus  # noqa: E402
from act_tool.sim.errors import RenderError  # noqa: E402
from act_tool.sim.twin import Twin, TwinConfig  # noqa: E402

# A position servo settles near its goal; gravity leaves a small droop on the loaded joints: the
# lockstep bound of tests/sim/test_bus.py (goal to present after 2 s), in degrees.
SETTLED_DEG = 1.5
# The STS3215 actuators (act_tool.sim.arm_model): damping 0.6 + kv 1.0 N m s/rad on a joint of
# some 0.05 kg m^2 (armature and link) decay with the time constant 2 I / c of about 0.06 s; a goal
# that moved within the last 0.25 s (four time constants) may not have been reached yet.
SETTLING_S = 0.25
# A thread of this process advances the physics by the wall time since its last step; between
# its clock read and ours lie a Python call and, at worst, a few GIL switch intervals (5 ms).
SCHEDULING_S = 0.05


@pytest.fixture(scope="module")
def gl():
    """Offscreen rendering works here (`run --port sim` renders the cameras), else skip."""
    twin = Twin(TwinConfig(max_height=8, max_width=8))
    try:
        twin.render("front", np.empty((8, 8, 3), np.uint8))
    except RenderError as e:
        pytest.skip(f"no offscreen rendering here: {e}")
    finally:
        twin.close()


class RecordingBus(TwinBus):
    """The twin's bus as `run --port sim` builds it, recording on the wall clock what the twin
    was told (goals, torque: after every packet) and where its joints went (every advance)."""

    made: list[RecordingBus] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.told: list[tuple[float, np.ndarray, bool]] = []  # (wall, goals, any torque on)
        self.moved: list[
            tuple[float, float, np.ndarray, bool]
        ] = []  # (wall, twin time, joints, on)
        RecordingBus.made.append(self)

    def _apply_registers(self) -> None:
        super()._apply_registers()
        self.told.append((time.perf_counter(), self.twin.goals(), any(self.twin.torque())))

    def advance(self, seconds: float) -> None:
        wall = time.perf_counter()
        super().advance(seconds)
        on = any(self.twin.torque())
        self.moved.append((wall, self.twin.time, self.twin.joint_positions(), on))


def test_run_port_sim_ticks_and_the_twin_follows_the_goals(gl, tiny_onnx, tmp_path, monkeypatch):
    RecordingBus.made.clear()
    monkeypatch.setattr(sim_arm, "TwinBus", RecordingBus)
    log = tmp_path / "run.jsonl"
    result = CliRunner().invoke(
        app,
        ["run", "--engine", str(tiny_onnx), "--port", "sim", "--duration", "1", "--force"]
        + ["--log", str(log)],  # --force: the tiny policy's made-up ranges miss the home pose
    )
    assert result.exit_code == 0, result.output
    assert "simulated SO-101" in result.output and "duration reached" in result.output
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    # 1 s at the spec's 30 Hz; a loaded machine may skip a deadline after an overrun
    assert 25 <= len(rows) <= 31 and rows[0]["inferred"]

    (bus,) = RecordingBus.made
    # torque ends off: the twin's actuators and every servo's register
    assert not any(bus.twin.torque())
    assert all(s.get(Reg.TORQUE_ENABLE) == 0 for s in bus.servos)

    # The physics ran on the wall clock while torque was on: twin time = wall time, to the
    # rounding to whole 2 ms steps and the scheduling between the two clock reads.
    on = [m for m in bus.moved if m[3]]
    assert len(on) > 100  # the driver steps every 2 ms for about 1 s
    wall, twin_t = on[-1][0] - on[0][0], on[-1][1] - on[0][1]
    assert wall > 0.8
    assert abs(twin_t - wall) <= bus.twin.config.timestep + SCHEDULING_S

    # The joints followed the goals written on the bus: from far off to settled near them.
    goals = [(t, g) for t, g, torque in bus.told if torque]
    t_end, q_end = on[-1][0], on[-1][2]
    in_force = [g for t, g in goals if t <= t_end]
    g_end = in_force[-1]
    recent = np.array([g for t, g in goals if t_end - SETTLING_S <= t <= t_end] + [g_end])
    spread = recent.max(axis=0) - recent.min(axis=0)  # how far the goal moved while settling
    start_error = np.abs(on[0][2] - g_end)  # where torque went on
    assert start_error.max() > 20.0, "the goals asked for no motion: the test shows nothing"
    end_error = np.abs(q_end - g_end)
    assert np.all(end_error <= SETTLED_DEG + spread), (
        f"joints {np.round(q_end, 2)} did not settle near goals {np.round(g_end, 2)} "
        f"(goal spread over the last {SETTLING_S} s: {np.round(spread, 2)})"
    )
    assert end_error.max() < start_error.max() / 4


# `act-tool emulate --sim` with SIGINT as a shell gives it (a test run may have left SIGINT
# ignored, which a child would inherit).
EMULATE_SIM = [
    sys.executable,
    "-c",
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from act_tool.cli import app; app()",
    "emulate",
    "--sim",
]


def _start_emulator(tmp_path: Path) -> tuple[subprocess.Popen, str, Path]:
    """`act-tool emulate --sim` in its own process; returns it, its pty and the calibration."""
    proc = subprocess.Popen(
        [*EMULATE_SIM] + ["--robot-id", "twin", "--calibration-dir", str(tmp_path), "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    calibration, port = None, None
    deadline = time.monotonic() + 60
    while port is None:
        line = proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the emulator did not start: {proc.stderr.read()}")
        if line.startswith("calibration file: "):
            calibration = Path(line.split(": ", 1)[1].strip())
        elif line.startswith("virtual SO-101 on "):
            port = line.split()[3]
    assert calibration == tmp_path / "twin.json" and calibration.exists()
    return proc, port, calibration


def _positions_until(arm: SO101Arm, done, timeout_s: float) -> list[tuple[float, np.ndarray]]:
    """Reads the present positions every 20 ms until `done(positions)` or the timeout."""
    reads = []
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        q = arm.read_positions(np.zeros(6))
        reads.append((time.perf_counter(), q))
        if done(q):
            break
        time.sleep(0.02)
    return reads


def test_emulate_sim_serves_the_twin_on_the_wall_clock(tmp_path):
    proc, port, calibration = _start_emulator(tmp_path)
    try:
        arm = SO101Arm(ArmConfig(port=port, calibration_path=calibration, timeout_margin_s=0.25))
        with arm:  # connect: torque on, goal = present (the arm holds where it is)
            assert arm.torque_enabled
            start = arm.read_positions(np.zeros(6))
            goal = arm.write_goals(start + np.array([20.0, 25.0, -20.0, -15.0, 30.0, 20.0]))
            # Nobody but the emulator's own thread advances the physics: the joints move as
            # wall time passes, from the start toward the goal, until settled.
            reads = _positions_until(
                arm, lambda q: np.abs(q - goal).max() <= SETTLED_DEG, timeout_s=3.0
            )
            errors = np.array([np.abs(q - goal).max() for _, q in reads])
            assert errors[-1] <= SETTLED_DEG, f"not settled in 3 s: {reads[-1][1]} vs {goal}"
            assert len(reads) > 1 and errors[0] > errors[-1]  # it took wall time to get there
            held = reads[-1][1]

            # Torque off over the pty: the twin's actuators let go and the arm sags as the wall
            # clock runs on (the lockstep counterpart is test_bus's sag test).
            arm.disable_torque()
            sagged = _positions_until(
                arm, lambda q: np.abs(q[:4] - held[:4]).max() > 10.0, timeout_s=3.0
            )
            assert np.abs(sagged[-1][1][:4] - held[:4]).max() > 10.0, "torque off: no sag"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    # read through the same buffered files _start_emulator read the port from (communicate()
    # reads the raw pipes and would miss lines they had already buffered)
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 0, err
    assert "stopped" in out and "time runs from torque on" in out


def test_emulate_sim_refuses_factory_servos(tmp_path):
    """--factory servos hold no calibration the twin could map its joints through."""
    result = subprocess.run(
        [*EMULATE_SIM] + ["--factory"],
        capture_output=True,
        text=True,
        timeout=60,  # an emulator that starts instead would run until Ctrl-C
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "--factory" in result.stderr and "--sim" in result.stderr
