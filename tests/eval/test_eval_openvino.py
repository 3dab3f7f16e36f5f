"""`act-tool eval --sim --backend openvino`: the OpenVINO runner drives the twin's episodes (the
machinery; the tiny policy is untrained), self-checked first, labelled by backend and precision."""

from __future__ import annotations

import pytest

from act_tool.eval.evaluate import EvalOptions, evaluate
from act_tool.runtime.loop_config import LoopConfig


def test_eval_sim_with_the_openvino_runner(eval_onnx):
    pytest.importorskip("openvino", reason="openvino is not installed (extra `openvino`)")
    lines: list[str] = []
    options = EvalOptions(
        eval_onnx,
        backend="openvino",
        episodes=1,
        episode_time_s=1.0,
        loop=LoopConfig(force=True, warmup=1),
    )
    (summary,) = evaluate(options, log=lines.append).summaries
    assert summary.name == "openvino fp32"
    assert summary.episodes[0].ticks == 30  # 1 s at the spec's 30 Hz, on the twin's clock
    assert any("self-check: act.onnx on openvino CPU" in line and "PASS" in line for line in lines)
