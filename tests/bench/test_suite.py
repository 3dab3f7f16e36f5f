"""`act-tool bench` end to end on a tiny checkpoint, on the CPU."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("lerobot")
pytest.importorskip("matplotlib")

from act_tool.bench import inference  # noqa: E402
from act_tool.bench.suite import BenchOptions, run_bench  # noqa: E402
from act_tool.errors import ActToolError  # noqa: E402
from act_tool.runtime.telemetry import STAGES  # noqa: E402
from tests.tolerances import FP32_BOUND  # noqa: E402


@pytest.fixture(scope="module")
def bench(tiny_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    opts = BenchOptions(
        checkpoint=tiny_checkpoint,
        repeats=5,
        warmup=1,
        observations=2,
        tick_seconds=1.5,
        json_path=out / "bench.json",
        plot_path=out / "bench.png",
    )
    return run_bench(opts, log=lambda _m: None), out


def test_json_parses_with_every_backend(bench):
    result, out = bench
    data = json.loads((out / "bench.json").read_text())
    assert data == result.data
    by_name = {r["name"]: r for r in data["inference"]}
    for name in ("lerobot eager", "act-tool torch cpu", "onnxruntime cpu"):
        r = by_name[name]
        assert r["status"] == "ok", r
        assert 0 < r["latency_ms"]["p50"] <= r["latency_ms"]["max"]
        assert len(r["samples_ms"]) == 5 and r["peak_rss_mb"] > 0
    assert by_name["lerobot eager"]["ratio_to_baseline"] == 1.0
    # act-tool backends compute what LeRobot computes: within the FP32 parity bound of the std
    # (the ONNX model passed the export's gate; the torch module is held to it in tests/policy).
    for name in ("act-tool torch cpu", "onnxruntime cpu"):
        accuracy = by_name[name]["accuracy"]
        assert 0 < accuracy["mean_rel"] <= accuracy["max_rel"] <= FP32_BOUND
    assert data["baseline"] == "lerobot eager" and data["baseline_note"] == ""
    assert "mean err/std" in result.text
    assert data["flops_per_inference"] > 1e8 and data["peak_flops"]["cpu_fp32"] > 0
    assert data["machine"]["cores"] >= 1 and "onnxruntime" in data["machine"]["libraries"]


def test_gpu_backends_are_skipped_with_a_reason(bench):
    result, _ = bench
    if inference.cuda_available():
        pytest.skip("a CUDA GPU is present: these backends run")
    skipped = {r["name"]: r for r in result.data["inference"] if r["status"] == "skipped"}
    assert {"tensorrt fp16", "onnxruntime cuda", "act-tool torch cuda fp16+graph"} <= set(skipped)
    assert all(r["reason"] for r in skipped.values())
    assert not [r for r in result.data["inference"] if r["status"] == "failed"]
    assert "skipped:" in result.text and "no CUDA GPU" in result.text


def test_control_tick_stages(bench):
    result, _ = bench
    tick = result.data["control_tick"]
    assert tick["status"] == "ok", tick
    assert set(tick["stages"]) == set(STAGES)
    assert tick["ticks"] > 10 and tick["achieved_hz"] > 0
    assert tick["stages"]["inference"]["max"] > 0


def test_plot_is_a_png_that_opens(bench):
    import cv2

    _, out = bench
    image = cv2.imread(str(out / "bench.png"))
    assert image is not None and image.shape[0] > 300 and image.shape[1] > 600
    assert np.std(image) > 5  # not a blank canvas


def test_missing_library_is_skipped_not_failed(tiny_checkpoint, monkeypatch):
    real = inference.have_module
    monkeypatch.setattr(inference, "have_module", lambda name: name != "lerobot" and real(name))
    cands = inference.candidates(tiny_checkpoint, None, [], gpu=False)
    eager = next(c for c in cands if c.name == "lerobot eager")
    assert "not installed" in eager.skipped and "act-tool[export]" in eager.skipped


def test_nothing_to_measure_is_refused():
    with pytest.raises(ActToolError, match="--checkpoint, --onnx or --engine"):
        BenchOptions()
