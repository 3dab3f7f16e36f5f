"""The self-check files export writes beside each artifact, and the plan's copy of its ONNX's."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lerobot")
pytest.importorskip("onnx")

from act_tool.errors import ActToolError  # noqa: E402
from act_tool.export.check_files import CHECK_OBSERVATIONS  # noqa: E402
from act_tool.export.pipeline import FP16_BOUND, FP32_BOUND  # noqa: E402
from act_tool.runtime.check_file import CheckData, check_path  # noqa: E402
from act_tool.runtime.runners.base import io_specs  # noqa: E402
from act_tool.spec import EngineSpec, sha256_file, spec_path  # noqa: E402


def checks(out: Path) -> dict[str, tuple[EngineSpec, CheckData]]:
    found = {}
    for name in ("act.onnx", "act.fp16.onnx", "act.plan"):
        if (out / name).exists():
            found[name] = (
                EngineSpec.read(spec_path(out / name)),
                CheckData.read(check_path(out / name)),
            )
    return found


def test_every_artifact_has_its_check_file(exported, tiny_dataset):
    out, result, _, _ = exported
    assert not list(out.glob(".*partial*")) and not list(out.glob(".act-export-*"))
    for artifact in result.artifacts:
        spec = EngineSpec.read(spec_path(artifact))
        path = check_path(artifact)
        check = CheckData.read(path)
        assert spec.format_version == 5 and spec.check_file == path.name
        assert spec.check_sha256 == sha256_file(path)
        assert check.artifact == artifact.name
        assert check.artifact_sha256 == spec.sha256 == sha256_file(artifact)
        assert check.precision == spec.precision
        assert check.bound == (FP16_BOUND if spec.precision == "fp16" else FP32_BOUND)
        assert check.gpu_bound == FP16_BOUND  # TF32 rounds as FP16 does
        # observations at the policy's size, as the runner is fed
        inputs, _ = io_specs(spec)
        assert check.input_names == tuple(t.name for t in inputs)
        for ts, batch in zip(inputs, check.inputs, strict=True):
            assert batch.shape == (CHECK_OBSERVATIONS, *ts.shape[1:])
            assert batch.dtype == np.dtype(ts.dtype)
        assert check.sources == ("random", str(tiny_dataset), str(tiny_dataset))
        assert check.reference.shape == (CHECK_OBSERVATIONS, spec.chunk_size, 6)
        assert np.array_equal(check.scale, np.asarray(spec.action_std))
        frames = check.inputs[0]
        assert frames.std() > 10  # real and random frames, never constants


def test_reference_is_lerobots_own_actions(exported, tiny_checkpoint):
    """The reference is LeRobot's pipeline on the check's observations (recomputed here from
    the stored inputs: BGR back to RGB)."""
    from act_tool.export.parity import Observation, lerobot_chunks
    from act_tool.policy.checkpoint import load_checkpoint

    out, *_ = exported
    spec = EngineSpec.read(out / "act.onnx.json")
    check = CheckData.read(check_path(out / "act.onnx"))
    observations = []
    for i in range(check.n):
        feeds = dict(zip(check.input_names, (a[i] for a in check.inputs), strict=True))
        frames = {c.key: feeds[c.key][..., ::-1].copy() for c in spec.cameras}
        observations.append(Observation(frames, feeds["observation.state"].copy()))
    again = lerobot_chunks(load_checkpoint(tiny_checkpoint), observations)
    # same kernels, same inputs, same process: bitwise reproducible
    assert np.array_equal(again, check.reference)


def test_each_onnx_passes_its_own_self_check(exported):
    from act_tool.runtime.runners import open_runner
    from act_tool.runtime.self_check import run_self_check

    out, *_ = exported
    for name, bound in (("act.onnx", FP32_BOUND), ("act.fp16.onnx", FP16_BOUND)):
        lines: list[str] = []
        with open_runner(out / name) as runner:
            result = run_self_check(runner, lines.append)
        assert result is not None and result.passed and result.bound == bound
        assert "PASS" in lines[-1]


def test_the_plan_gets_the_check_of_the_onnx_it_was_built_from(exported):
    out, _, _, builder = exported
    if builder == "onnx":
        pytest.skip("TensorRT-RTX is not installed: no plan built")
    found = checks(out)
    (onnx_spec, onnx_check), (plan_spec, plan_check) = found["act.fp16.onnx"], found["act.plan"]
    assert plan_check.artifact == "act.plan"
    assert plan_check.artifact_sha256 == plan_spec.sha256 == sha256_file(out / "act.plan")
    assert (plan_check.built_from, plan_check.built_from_sha256) == (
        "act.fp16.onnx",
        onnx_spec.sha256,
    )
    assert np.array_equal(plan_check.reference, onnx_check.reference)
    for a, b in zip(plan_check.inputs, onnx_check.inputs, strict=True):
        assert np.array_equal(a, b)
    assert (plan_check.bound, plan_check.precision) == (FP16_BOUND, "fp16")
    assert plan_spec.check_sha256 == sha256_file(check_path(out / "act.plan"))


@pytest.fixture
def fp16_onnx(exported, tmp_path) -> Path:
    out, *_ = exported
    onnx = out / "act.fp16.onnx"
    for src in (onnx, spec_path(onnx), check_path(onnx)):
        shutil.copy(src, tmp_path / src.name)
    return tmp_path / onnx.name


def test_an_engine_built_from_an_exported_onnx_keeps_its_check(exported, fp16_onnx):
    from act_tool.export.engine_from_onnx import build_plan_from_onnx

    if exported[3] == "onnx":
        pytest.skip("TensorRT-RTX is not installed")
    lines: list[str] = []
    plan = build_plan_from_onnx(fp16_onnx, builder="tensorrt-rtx", log=lines.append)
    spec, check = EngineSpec.read(spec_path(plan)), CheckData.read(check_path(plan))
    assert plan == fp16_onnx.with_name("act.plan") and spec.sha256 == sha256_file(plan)
    assert check.artifact_sha256 == spec.sha256 and check.built_from == "act.fp16.onnx"
    assert spec.check_sha256 == sha256_file(check_path(plan))
    assert spec.builder == "tensorrt-rtx" and spec.precision == "fp16"
    assert "check file: act.plan.check.npz" in lines[-1]
    assert not list(fp16_onnx.parent.glob(".act-engine-*"))


def test_an_engine_from_an_onnx_with_another_artifacts_check_is_refused(exported, fp16_onnx):
    from act_tool.export.engine_from_onnx import build_plan_from_onnx

    out, *_ = exported
    shutil.copy(check_path(out / "act.onnx"), check_path(fp16_onnx))
    with pytest.raises(ActToolError, match="belongs to another artifact"):
        build_plan_from_onnx(fp16_onnx, builder="onnx", log=lambda _m: None)
    assert not fp16_onnx.with_name("act.plan").exists()
