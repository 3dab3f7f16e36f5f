"""The on-target self-check in `act-tool run`: a good exported artifact passes; a tampered one, a
check file of another artifact and a missing check file are each refused with their own
message, before the virtual arm ever connects (so torque is never enabled)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.hw.feetech.protocol import Reg
from act_tool.hw.so101 import SERVO_IDS
from act_tool.runtime.check_file import CheckData, check_path
from act_tool.spec import EngineSpec, sha256_file, spec_path
from act_tool.testing.arm_kinds import registered, virtual_so101_spy


@pytest.fixture
def artifact(tiny_onnx: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny export's act.onnx, its spec and its check file."""
    for src in (tiny_onnx, spec_path(tiny_onnx), check_path(tiny_onnx)):
        shutil.copy(src, tmp_path / src.name)
    return tmp_path / tiny_onnx.name


def run_on_spy(artifact: Path, *extra: str) -> tuple[object, list[list[int]]]:
    """`act-tool run` on a virtual SO-101 whose torque registers are read when it connects."""
    torque: list[list[int]] = []

    def on_connect(arm, virtual) -> None:
        torque.append([arm.bus.read(i, Reg.TORQUE_ENABLE) for i in SERVO_IDS])

    with registered(virtual_so101_spy("spy", on_connect)):
        result = CliRunner().invoke(
            app, ["run", "--engine", str(artifact), "--port", "spy", "--duration", "0.3", *extra]
        )
    return result, torque


def tamper(artifact: Path, shift: float) -> None:
    """Change the action head's bias by `shift` (normalized units: `shift` action stds) and
    update the spec's sha256 to match, as someone editing the weights would."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(artifact))
    for i, init in enumerate(model.graph.initializer):
        if init.name == "action_head.bias":
            bias = numpy_helper.to_array(init) + np.float32(shift)
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(bias, init.name))
    onnx.save(model, str(artifact))
    spec = EngineSpec.read(spec_path(artifact))
    replace(spec, sha256=sha256_file(artifact)).write(spec_path(artifact))


def test_a_good_artifact_passes_and_the_arm_runs(artifact):
    result, torque = run_on_spy(artifact)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("self-check:"))
    assert "3 observations" in line and "bound 1e-04, FP32" in line and "PASS" in line
    worst = float(line.split("worst error ")[1].split()[0])
    assert worst <= 1e-4
    assert torque == [[1] * 6]  # the run went on and held the arm


def test_a_tampered_artifact_is_refused_before_torque(artifact):
    tamper(artifact, 0.5)
    result, torque = run_on_spy(artifact)
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "act.onnx was changed after export" in out
    assert "its spec's sha256 was updated to match" in out
    assert "its actions no longer match LeRobot's, so the weights were changed" in out
    assert "Export again from the checkpoint" in out
    assert torque == []  # the arm never connected: torque never on


def test_tampering_is_not_overridden_by_skip(artifact):
    tamper(artifact, 0.5)
    result, torque = run_on_spy(artifact, "--skip-self-check")
    assert result.exit_code == 1
    assert "--skip-self-check has no effect here" in result.output
    assert "changed after export" in " ".join(result.output.split())
    assert torque == []


def test_a_check_file_of_another_artifact_is_refused(artifact):
    check = CheckData.read(check_path(artifact))
    other = check.for_artifact(Path("act.fp16.onnx"), "ab" * 32, precision="fp16")
    other.write(check_path(artifact))
    result, torque = run_on_spy(artifact)
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "act.onnx.check.npz belongs to another artifact" in out
    assert "written for act.fp16.onnx (sha256 abababababab...)" in out
    assert torque == []


def test_a_missing_check_file_is_refused_unless_skipped(artifact):
    check_path(artifact).unlink()
    result, torque = run_on_spy(artifact)
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "act.onnx has no check file (act.onnx.check.npz: its spec names it" in out
    assert "--skip-self-check" in out
    assert torque == []

    result, torque = run_on_spy(artifact, "--skip-self-check")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "WARNING: --skip-self-check: no check file" in out and "NOT checked" in out
    assert torque == [[1] * 6]


def test_an_engine_beyond_its_bound_is_refused_with_what_to_do(artifact):
    """A runner computing slightly wrong (here: LeRobot's reference moved by twice the FP32
    bound, as an engine off by that much would look): the error, the bound, what to do."""
    from act_tool.export.pipeline import FP32_BOUND

    path = check_path(artifact)
    check = CheckData.read(path)
    moved = check.reference + np.float32(2 * FP32_BOUND) * check.scale.astype(np.float32)
    replace(check, reference=moved).write(path)
    spec = EngineSpec.read(spec_path(artifact))
    replace(spec, check_sha256=sha256_file(path)).write(spec_path(artifact))
    result, torque = run_on_spy(artifact)
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "self-check FAILED: act.onnx on onnxruntime" in out
    figure = float(out.split("differs from LeRobot's actions by ")[1].split()[0])
    assert 1.5 * FP32_BOUND <= figure <= 2.5 * FP32_BOUND  # 2 bounds moved, FP32 noise ~1e-6
    assert "the bound for FP32 is 1e-04" in out
    assert "What to do: export again on this machine: act-tool export" in out
    assert torque == []


def test_an_engine_built_from_an_onnx_is_told_to_rebuild_here(artifact):
    """A check that came with a plan names the ONNX to rebuild it from, on this machine."""
    from act_tool.runtime.runners import open_runner
    from act_tool.runtime.self_check import SelfCheckFailed, run_self_check

    path = check_path(artifact)
    check = CheckData.read(path)
    moved = check.reference + check.scale.astype(np.float32)  # one std off
    replace(check, reference=moved, built_from="act.fp16.onnx").write(path)
    spec = EngineSpec.read(spec_path(artifact))
    replace(spec, check_sha256=sha256_file(path)).write(spec_path(artifact))
    with open_runner(artifact) as runner, pytest.raises(SelfCheckFailed) as failed:
        run_self_check(runner, lambda _m: None)
    message = str(failed.value)
    assert f"act-tool engine {artifact.parent / 'act.fp16.onnx'} -o {artifact}" in message
    assert "torque stays off" in message


def test_an_edited_check_file_is_refused(artifact):
    path = check_path(artifact)
    check = CheckData.read(path)
    replace(check, bound=1.0).write(path)  # someone widening the bound
    result, torque = run_on_spy(artifact)
    assert result.exit_code == 1
    assert "act.onnx.check.npz was changed after export" in " ".join(result.output.split())
    assert torque == []
