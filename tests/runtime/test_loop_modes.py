"""How `act-tool run` picks its execution mode, and what --dry-run and --no-range-clamp reach."""

from __future__ import annotations

from dataclasses import replace

import pytest

from act_tool.errors import ActToolError
from act_tool.runtime.loop_config import LoopConfig
from act_tool.testing.specs import make_spec

CHUNKS = make_spec(chunk=100)
ENSEMBLE = replace(CHUNKS, n_action_steps=1, temporal_ensemble_coeff=0.01)


def execution_mode(spec, config: LoopConfig) -> tuple[int | None, float | None]:
    resolved = config.resolve(spec)
    assert resolved.fps == spec.fps
    return resolved.n_action_steps, resolved.temporal_ensemble_coeff


def opts(**kw) -> LoopConfig:
    return LoopConfig(**kw)


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
    # The loop accepts what was picked (run_loop resolves exactly this).
    LoopConfig(
        fps=30, n_action_steps=steps, temporal_ensemble_coeff=coeff, asynchronous=o.asynchronous
    ).resolve(spec)


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
    with pytest.raises(ActToolError, match="one or the other"):
        opts(asynchronous=True, temporal_ensemble_coeff=0.01)


@pytest.mark.parametrize("dry_run", [True, False])
def test_dry_run_never_turns_torque_on(tiny_onnx, dry_run):
    """A dry run connects the arm without torque (it stays limp); a real run holds it."""
    from act_tool.hw.feetech.protocol import Reg
    from act_tool.hw.so101 import SERVO_IDS
    from act_tool.runtime.arm_kinds import ArmOptions
    from act_tool.runtime.session import RunOptions, run
    from act_tool.testing.arm_kinds import registered, virtual_so101_spy

    seen: list[list[int]] = []

    def on_connect(arm, virtual) -> None:
        seen.append([arm.bus.read(i, Reg.TORQUE_ENABLE) for i in SERVO_IDS])

    logs: list[str] = []
    with registered(virtual_so101_spy("spy", on_connect)):
        summary = run(
            RunOptions(
                engine=tiny_onnx,
                arm=ArmOptions("spy", wire_time=False),
                loop=LoopConfig(duration_s=0.3, dry_run=dry_run),
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
