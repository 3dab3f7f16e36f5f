"""How `act-tool run` picks its execution mode, and what --dry-run and --no-range-clamp reach."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from act_tool.errors import ActToolError
from act_tool.runtime.loop import LoopConfig
from act_tool.runtime.session import RunOptions, execution_mode
from act_tool.spec import CameraSpec, EngineSpec

NAMES = tuple(f"j{i}.pos" for i in range(6))
CHUNKS = EngineSpec(
    artifact="x",
    cameras=(CameraSpec("observation.images.front", 4, 6),),
    state_names=NAMES,
    action_names=NAMES,
    units="degrees",
    fps=30,
    chunk_size=100,
    n_action_steps=100,
    temporal_ensemble_coeff=None,
    state_min=(-10.0,) * 6,
    state_max=(10.0,) * 6,
)
ENSEMBLE = replace(CHUNKS, n_action_steps=1, temporal_ensemble_coeff=0.01)


def opts(**kw) -> RunOptions:
    return RunOptions(engine=Path("act.onnx"), port="emulated", **kw)


@pytest.mark.parametrize(
    "spec, options, expected",
    [
        (CHUNKS, {}, (100, None)),  # the spec's own mode
        (ENSEMBLE, {}, (1, 0.01)),
        (CHUNKS, dict(n_action_steps=10), (10, None)),
        # Explicit chunk execution turns the spec's ensembling off.
        (ENSEMBLE, dict(n_action_steps=10), (10, None)),
        (CHUNKS, dict(temporal_ensemble_coeff=0.02), (1, 0.02)),
        (ENSEMBLE, dict(temporal_ensemble_coeff=0.05), (1, 0.05)),
        (CHUNKS, dict(temporal_ensemble_coeff=0.02, n_action_steps=1), (1, 0.02)),
        # --async works on chunks: the spec's ensembling is dropped, its n_action_steps kept
        # (1 for an ensembling spec: a new chunk is launched whenever the worker is idle).
        (CHUNKS, dict(asynchronous=True), (100, None)),
        (ENSEMBLE, dict(asynchronous=True), (1, None)),
        (CHUNKS, dict(asynchronous=True, n_action_steps=20), (20, None)),
    ],
)
def test_execution_mode(spec, options, expected):
    o = opts(**options)
    steps, coeff = execution_mode(spec, o)
    assert (steps, coeff) == expected
    # The loop accepts what was picked (session.run builds exactly this).
    LoopConfig(
        fps=30, n_action_steps=steps, temporal_ensemble_coeff=coeff, asynchronous=o.asynchronous
    )


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(n_action_steps=101), "exceeds the chunk size 100"),
        (dict(temporal_ensemble_coeff=0.01, n_action_steps=5), "drop --n-action-steps 5"),
    ],
)
def test_execution_mode_refusals(options, message):
    with pytest.raises(ActToolError, match=message):
        execution_mode(CHUNKS, opts(**options))


def test_async_with_ensembling_is_refused_by_the_loop():
    o = opts(asynchronous=True, temporal_ensemble_coeff=0.01)
    steps, coeff = execution_mode(CHUNKS, o)
    with pytest.raises(ActToolError, match="one or the other"):
        LoopConfig(fps=30, n_action_steps=steps, temporal_ensemble_coeff=coeff, asynchronous=True)


@pytest.mark.parametrize("dry_run", [True, False])
def test_dry_run_never_turns_torque_on(tiny_onnx, monkeypatch, dry_run):
    """A dry run connects the arm without torque (it stays limp); a real run holds it."""
    import act_tool.hw.so101 as so101
    from act_tool.hw.feetech.protocol import Reg
    from act_tool.hw.so101 import SERVO_IDS
    from act_tool.runtime.session import run

    seen: list[list[int]] = []

    class Spy(so101.SO101Arm):
        def connect(self) -> None:
            super().connect()
            seen.append([self.bus.read(i, Reg.TORQUE_ENABLE) for i in SERVO_IDS])

    monkeypatch.setattr(so101, "SO101Arm", Spy)
    logs: list[str] = []
    summary = run(
        RunOptions(
            engine=tiny_onnx,
            port="emulated",
            duration_s=0.3,
            dry_run=dry_run,
            emulator_wire_time=False,
        ),
        log=logs.append,
    )
    assert summary.ticks > 0
    assert seen == [[0 if dry_run else 1] * 6]
    assert any(("dry run, no writes" if dry_run else "moving the arm") in line for line in logs)


def test_cli_no_range_clamp_and_dry_run(tiny_onnx):
    from typer.testing import CliRunner

    from act_tool.cli import app

    result = CliRunner().invoke(
        app,
        ["run", "--engine", str(tiny_onnx), "--port", "emulated", "--duration", "0.3"]
        + ["--no-range-clamp", "--dry-run"],
    )
    assert result.exit_code == 0, result.output
    assert "--no-range-clamp: goals are limited by the arm's calibrated range only" in result.output
    assert "dry run, no writes" in result.output
