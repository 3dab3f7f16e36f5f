"""A TensorRT plan's spec against the machine, with fake machine facts (no GPU needed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from act_tool.errors import MissingDependencyError, SpecError
from act_tool.runtime.runners import compat
from act_tool.runtime.runners.compat import MachineFacts, check_plan
from act_tool.spec import sha256_file, spec_path
from act_tool.testing.specs import make_spec

RTX = "1.7.1.116"


def make_plan(tmp_path: Path, builder: str = "tensorrt-rtx", target: str = "portable"):
    plan = tmp_path / "act.plan"
    plan.write_bytes(b"not really an engine, but its bytes are hashed")
    spec = make_spec(
        cameras=(("front", 48, 64),),
        names=("a", "b"),
        chunk=10,
        state_range=(-1.0, 1.0),
        action_range=None,
        artifact=plan.name,
        builder=builder,
        builder_version=RTX if builder == "tensorrt-rtx" else "10.3.0",
        target=target,
        sha256=sha256_file(plan),
        source_checkpoint="/ckpts/pick/pretrained_model",
    )
    spec.write(spec_path(plan))
    return plan, spec


def facts(cc=(8, 9), rtx=RTX, trt="") -> MachineFacts:
    return MachineFacts({"tensorrt-rtx": rtx, "tensorrt": trt}, cc)


def test_matching_machine_passes(tmp_path):
    plan, spec = make_plan(tmp_path)
    assert check_plan(spec, plan, facts()) == "tensorrt_rtx"
    plan, spec = make_plan(tmp_path, "tensorrt", "sm_86")
    assert check_plan(spec, plan, facts((8, 6), trt="10.3.0")) == "tensorrt"


def test_version_mismatch_says_how_to_rebuild(tmp_path):
    plan, spec = make_plan(tmp_path)
    with pytest.raises(SpecError) as e:
        check_plan(spec, plan, facts(rtx="1.8.0.1"))
    msg = str(e.value)
    assert "1.8.0.1" in msg and RTX in msg
    assert "act-tool export /ckpts/pick/pretrained_model --builder tensorrt-rtx" in msg


def test_other_gpu_is_refused(tmp_path):
    plan, spec = make_plan(tmp_path, "tensorrt", "sm_89")
    with pytest.raises(SpecError, match="built for sm_89, but this GPU is sm_87"):
        check_plan(spec, plan, facts((8, 7), trt="10.3.0"))


@pytest.mark.parametrize("cc", [(8, 0), (8, 7), (9, 0), (10, 0)])
def test_rtx_plan_on_a_gpu_rtx_does_not_support(tmp_path, cc):
    """Datacenter Ampere, Jetson Orin, Hopper, datacenter Blackwell: no TensorRT-RTX at all."""
    plan, spec = make_plan(tmp_path)
    with pytest.raises(SpecError, match=rf"RTX-class GPUs .*this GPU is sm_{cc[0]}{cc[1]}"):
        check_plan(spec, plan, facts(cc))


def test_portable_rtx_plan_on_turing_needs_its_own_plan(tmp_path):
    plan, spec = make_plan(tmp_path)
    with pytest.raises(SpecError, match="portable TensorRT-RTX plan runs on sm_86, sm_89, sm_120"):
        check_plan(spec, plan, facts((7, 5)))


@pytest.mark.parametrize("cc", [(8, 6), (8, 9), (12, 0)])
def test_portable_rtx_plan_on_rtx_gpus(tmp_path, cc):
    plan, spec = make_plan(tmp_path)
    assert check_plan(spec, plan, facts(cc)) == "tensorrt_rtx"


def test_rtx_support_is_limited_to_what_the_installed_library_knows():
    """A library whose ComputeCapability enum lacks SM121 does not run on a GB10 (sm_121)."""
    older = MachineFacts({"tensorrt-rtx": RTX}, (12, 1), rtx_targets=((7, 5), (8, 6), (12, 0)))
    assert "this GPU is sm_121" in compat.rtx_gpu_problem((12, 1), older, portable=False)
    newer = replace(older, rtx_targets=((12, 0), (12, 1)))
    assert compat.rtx_gpu_problem((12, 1), newer, portable=False) == ""


def test_explicit_targets(tmp_path):
    plan, spec = make_plan(tmp_path, target="sm_75,sm_86")
    check_plan(spec, plan, facts((7, 5)))
    with pytest.raises(SpecError, match="sm_89"):
        check_plan(spec, plan, facts((8, 9)))


def test_no_gpu(tmp_path):
    plan, spec = make_plan(tmp_path)
    with pytest.raises(SpecError, match="needs a CUDA GPU.*onnxruntime"):
        check_plan(spec, plan, facts(None))


def test_library_missing_names_the_extra(tmp_path):
    plan, spec = make_plan(tmp_path)
    with pytest.raises(MissingDependencyError, match=r"act-tool\[rtx\]"):
        check_plan(spec, plan, facts(rtx=""))


def test_changed_file_is_refused(tmp_path):
    plan, spec = make_plan(tmp_path)
    plan.write_bytes(b"another engine")
    with pytest.raises(SpecError, match="does not match its spec.*Rebuild"):
        check_plan(spec, plan, facts())


def test_onnx_spec_is_not_a_plan(tmp_path):
    plan, spec = make_plan(tmp_path)
    with pytest.raises(SpecError, match="not a TensorRT engine"):
        check_plan(replace(spec, builder="onnx"), plan, facts())


def test_runner_checks_before_loading(tmp_path, monkeypatch):
    """The TensorRT runner refuses a mismatching plan before importing TensorRT."""
    from act_tool.runtime.runners import open_runner

    plan, _ = make_plan(tmp_path, "tensorrt", "sm_89")
    monkeypatch.setattr(compat, "probe_machine", lambda: facts((8, 6), trt="10.3.0"))
    runner = open_runner(plan)
    assert runner.backend == "tensorrt"
    with pytest.raises(SpecError, match="this GPU is sm_86"):
        runner.__enter__()


def test_probe_machine_here():
    found = compat.probe_machine()
    assert set(found.versions) == {"tensorrt", "tensorrt-rtx"}


def test_plan_and_builder_problems_as_reasons(tmp_path):
    plan, spec = make_plan(tmp_path)
    assert compat.plan_problem(spec, plan, facts()) == ""
    assert "this GPU is sm_90" in compat.plan_problem(spec, plan, facts((9, 0)))
    assert "needs a CUDA GPU" in compat.plan_problem(spec, plan, facts(None))
    assert compat.builder_problem("tensorrt-rtx", facts()) == ""
    assert "RTX-class GPUs" in compat.builder_problem("tensorrt-rtx", facts((9, 0)))
    assert compat.builder_problem("tensorrt", facts((9, 0), trt="10.3.0")) == ""
    assert "act-tool[tensorrt]" in compat.builder_problem("tensorrt", facts((9, 0)))
    assert compat.builder_problem("tensorrt", facts(None, trt="10.3.0")) == "no CUDA GPU"
