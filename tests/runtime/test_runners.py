"""Runners that run here (ONNX Runtime, PyTorch on the CPU), the factory, and the TensorRT runner
where a GPU and TensorRT exist."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from act_tool.errors import ActToolError, MissingDependencyError, SpecError
from act_tool.runtime.runners import (
    ACTION,
    STATE,
    RunnerError,
    RunnerOptions,
    backend_for,
    open_runner,
)
from act_tool.spec import spec_path
from tests.tolerances import FP16_BOUND, FP32_BOUND, assert_within, network_bound


def fill_random(inputs: dict[str, np.ndarray], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for buf in inputs.values():
        if buf.dtype == np.uint8:
            buf[...] = rng.integers(0, 256, buf.shape, dtype=np.uint8)
        else:
            buf[...] = rng.uniform(-30, 30, buf.shape)


def test_onnxruntime_runner_matches_a_plain_session(tiny_onnx: Path):
    import onnxruntime as ort

    with open_runner(tiny_onnx) as runner:
        assert runner.backend == "onnxruntime"
        assert [t.name for t in runner.input_specs] == runner.spec.input_names
        assert runner.inputs[STATE].shape == (1, 6)
        fill_random(runner.inputs)
        out = runner.infer()[ACTION]
        assert out.shape == (1, runner.spec.chunk_size, 6)
        feeds = {k: v.copy() for k, v in runner.inputs.items()}
        first = out.copy()
        fill_random(runner.inputs, seed=1)
        again = runner.infer()[ACTION]
        assert again is out, "the runner owns its output buffer: the same array every call"
        assert not np.allclose(again, first)
        std = runner.spec.action_std
    # Another session (other thread count, so possibly another summation order): each within the
    # FP32 parity bound of LeRobot, so within twice that of each other.
    session = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"])
    bound = network_bound(std, FP32_BOUND, FP32_BOUND)
    assert_within(session.run([ACTION], feeds)[0], first, bound, "runner vs plain session")


def test_onnxruntime_threads_and_device(tiny_onnx: Path):
    with open_runner(tiny_onnx, options=RunnerOptions(threads=1, device="cpu")) as runner:
        assert "CPUExecutionProvider" in runner.description
        assert "1 threads" in runner.description
    with pytest.raises(RunnerError, match="CUDA provider"):
        open_runner(tiny_onnx, options=RunnerOptions(device="cuda")).__enter__()


def test_onnxruntime_threads_spin_unless_beside_a_normal_priority_loop(
    tiny_onnx: Path, monkeypatch
):
    """Every core; idle threads do not spin beside an asynchronous loop at normal priority."""
    from act_tool.runtime.runners import onnxruntime_runner

    monkeypatch.setattr(onnxruntime_runner, "cpu_threads", lambda: 4)
    for asynchronous, realtime_loop, spinning in (
        (False, False, "1"),
        (True, False, "0"),
        (True, True, "1"),
    ):
        options = RunnerOptions(
            device="cpu", asynchronous=asynchronous, realtime_loop=realtime_loop
        )
        with open_runner(tiny_onnx, options=options) as runner:
            so = runner.session.get_session_options()
            assert so.intra_op_num_threads == 4
            assert so.get_session_config_entry("session.intra_op.allow_spinning") == spinning
            assert "(4 threads" in runner.description
            assert ("no spinning" in runner.description) == (spinning == "0")
    with open_runner(tiny_onnx, options=RunnerOptions(threads=2, asynchronous=True)) as runner:
        assert runner.session.get_session_options().intra_op_num_threads == 2, "as given"


def test_run_tells_the_runner_whether_the_loop_is_asynchronous(monkeypatch, tiny_onnx: Path):
    from act_tool.runtime import session
    from act_tool.runtime.arm_kinds import ArmOptions
    from act_tool.runtime.loop_config import LoopConfig

    seen: list[RunnerOptions] = []

    def fake_open(artifact, backend, options):
        seen.append(options)
        raise RuntimeError("stop before the arm")

    monkeypatch.setattr(session, "open_runner", fake_open)
    for asynchronous in (False, True):
        opts = session.RunOptions(
            tiny_onnx, ArmOptions("emulated"), loop=LoopConfig(asynchronous=asynchronous)
        )
        with pytest.raises(RuntimeError, match="stop before the arm"):
            session.run(opts, log=lambda _m: None)
    assert [o.asynchronous for o in seen] == [False, True]
    # Whether the loop will tick at real-time priority: asked of the system (async only).
    seen.clear()
    asked: list[int] = []
    for allowed in (False, True):

        def permitted(priority: int, allowed: bool = allowed) -> bool:
            asked.append(priority)
            return allowed

        monkeypatch.setattr(session.realtime, "permitted", permitted)
        for priority in (0, 40):
            opts = session.RunOptions(
                tiny_onnx,
                ArmOptions("emulated"),
                loop=LoopConfig(asynchronous=True, rt_priority=priority),
            )
            with pytest.raises(RuntimeError, match="stop before the arm"):
                session.run(opts, log=lambda _m: None)
    assert [o.realtime_loop for o in seen] == [False, False, True, True]
    assert asked == [0, 40, 0, 40]


def test_torch_runner_from_checkpoint_equals_onnx(tiny_checkpoint: Path, tiny_onnx: Path):
    with open_runner(tiny_onnx) as ort_runner, open_runner(tiny_checkpoint) as torch_runner:
        assert torch_runner.backend == "torch"
        assert torch_runner.spec.input_names == ort_runner.spec.input_names
        assert torch_runner.spec.chunk_size == ort_runner.spec.chunk_size
        fill_random(ort_runner.inputs, seed=5)
        for name, buf in ort_runner.inputs.items():
            np.copyto(torch_runner.inputs[name], buf)
        expected = ort_runner.infer()[ACTION]
        got = torch_runner.infer()[ACTION]
        # Two libraries' FP32 kernels, each within the FP32 parity bound of LeRobot.
        bound = network_bound(ort_runner.spec.action_std, FP32_BOUND, FP32_BOUND)
        assert_within(got, expected, bound, "torch vs ONNX Runtime")


def test_runner_must_be_entered(tiny_onnx: Path):
    runner = open_runner(tiny_onnx)
    with pytest.raises(RunnerError, match="not open"):
        runner.infer()


def test_backend_from_artifact_type(tmp_path: Path, tiny_onnx: Path, tiny_checkpoint: Path):
    assert backend_for(tiny_onnx) == "onnxruntime"
    assert backend_for(tmp_path / "act.plan") == "tensorrt"
    assert backend_for(tiny_checkpoint) == "torch"
    weird = tmp_path / "act.bin"
    weird.write_bytes(b"x")
    with pytest.raises(ActToolError, match="unknown artifact type"):
        backend_for(weird)
    with pytest.raises(ActToolError, match="unknown backend"):
        open_runner(tiny_onnx, "tflite")


def test_missing_spec_and_tampered_artifact(tmp_path: Path, tiny_onnx: Path):
    copy = tmp_path / "act.onnx"
    shutil.copy(tiny_onnx, copy)
    with pytest.raises(SpecError, match="spec file missing"):
        open_runner(copy)
    shutil.copy(spec_path(tiny_onnx), spec_path(copy))
    with copy.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(SpecError, match="does not match its spec"):
        open_runner(copy).__enter__()


def test_spec_that_belongs_to_another_export(tmp_path: Path, tiny_onnx: Path):
    copy = tmp_path / "act.onnx"
    shutil.copy(tiny_onnx, copy)
    data = json.loads(spec_path(tiny_onnx).read_text())
    data["cameras"] = data["cameras"][:1]
    spec_path(copy).write_text(json.dumps(data))
    with pytest.raises(RunnerError, match="another export"):
        open_runner(copy).__enter__()


def test_missing_onnxruntime_names_the_install(monkeypatch, tiny_onnx: Path):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    with pytest.raises(MissingDependencyError, match="pip install onnxruntime"):
        open_runner(tiny_onnx).__enter__()


def test_missing_torch_names_the_extra(monkeypatch, tiny_checkpoint: Path):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError, match=r"act-tool\[export\]"):
        open_runner(tiny_checkpoint)


def _gpu_and_tensorrt() -> str | None:
    from act_tool import gpu

    if gpu.compute_capability() is None:
        return "no CUDA GPU on this machine"
    if not any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx")):
        return "neither tensorrt nor tensorrt_rtx is installed"
    return None


@pytest.mark.gpu
def test_tensorrt_runner_matches_onnx(tmp_path: Path, tiny_checkpoint: Path, tiny_onnx: Path):
    reason = _gpu_and_tensorrt()
    if reason:
        pytest.skip(f"TensorRT runner: {reason}")
    from act_tool.export.pipeline import ExportOptions, run_export

    result = run_export(ExportOptions(tiny_checkpoint, tmp_path), log=lambda _: None)
    plan = next(p for p in result.artifacts if p.suffix == ".plan")
    for graph in (False, True):
        with (
            open_runner(tiny_onnx) as ort_runner,
            open_runner(plan, options=RunnerOptions(cuda_graph=graph)) as trt_runner,
        ):
            fill_random(ort_runner.inputs, seed=2)
            for name, buf in ort_runner.inputs.items():
                np.copyto(trt_runner.inputs[name], buf)
            # TensorRT runs FP32 convolutions and matrix products in TF32 by default (inputs
            # rounded to a 10-bit mantissa, FP16's unit roundoff): the FP16 bound on its side.
            bound = network_bound(ort_runner.spec.action_std, FP16_BOUND, FP32_BOUND)
            got, want = trt_runner.infer()[ACTION], ort_runner.infer()[ACTION]
            assert_within(got, want, bound, "TensorRT vs ONNX Runtime")


@pytest.mark.gpu
def test_torch_runner_fp16_cuda_graph_matches_cpu(tiny_checkpoint: Path):
    """The PyTorch runner on a GPU: FP32 with a CUDA graph, and FP16 with a CUDA graph, against
    the CPU runner on the same inputs; the graph replays what is in the inputs at each call."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch runner FP16 + CUDA graph: no CUDA GPU visible to torch here")
    cpu = open_runner(tiny_checkpoint, options=RunnerOptions(device="cpu"))
    graph32 = open_runner(tiny_checkpoint, options=RunnerOptions(device="cuda", cuda_graph=True))
    graph16 = open_runner(
        tiny_checkpoint, options=RunnerOptions(device="cuda", fp16=True, cuda_graph=True)
    )
    with cpu, graph32, graph16:
        assert graph32.description == "torch cuda cuda-graph"
        assert graph16.description == "torch cuda fp16 cuda-graph"
        std = np.asarray(cpu.spec.action_std or (1.0,) * len(cpu.spec.action_names))
        previous = None
        for seed in range(3):
            fill_random(cpu.inputs, seed=seed)
            for runner in (graph32, graph16):
                for name, buf in cpu.inputs.items():
                    np.copyto(runner.inputs[name], buf)
            expected = cpu.infer()[ACTION].copy()
            got32 = graph32.infer()[ACTION]
            got16 = graph16.infer()[ACTION]
            assert got16 is graph16.outputs[ACTION], "the same output buffer every call"
            assert got16.dtype == np.float32 and got16.shape == expected.shape
            # cuDNN may run FP32 convolutions as TF32 (torch's default), with FP16's unit
            # roundoff: both GPU runs get the FP16 bound, the CPU run the FP32 one.
            bound = network_bound(std, FP16_BOUND, FP32_BOUND)
            assert_within(got32, expected, bound, "FP32 (TF32) CUDA graph vs CPU")
            assert_within(got16, expected, bound, "FP16 CUDA graph vs CPU")
            if previous is not None:
                assert not np.allclose(got16, previous), "the graph read the new inputs"
            previous = got16.copy()
