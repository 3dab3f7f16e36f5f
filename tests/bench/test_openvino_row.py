"""`act-tool bench`'s OpenVINO row: measured on the ONNX model where openvino is installed,
listed as skipped with the extra to install where it is not, or with no ONNX model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from act_tool.bench import inference
from act_tool.bench.suite import BenchOptions, run_bench

NOT_INSTALLED = "openvino is not installed: pip install 'act-tool[openvino]'"


def rows(onnx: Path | None) -> dict[str, inference.Candidate]:
    return {c.name: c for c in inference.candidates(None, onnx, [], gpu=False)}


def test_the_row_runs_the_onnx_model_with_openvino(tmp_path: Path):
    pytest.importorskip("openvino", reason="openvino is not installed (extra `openvino`)")
    onnx = tmp_path / "act.onnx"
    names = list(rows(onnx))
    row = rows(onnx)["openvino cpu"]
    assert (row.backend, row.artifact, row.device, row.precision) == (
        "openvino",
        onnx,
        "cpu",
        "fp32",
    )
    assert not row.skipped
    assert names.index("openvino cpu") == names.index("onnxruntime cuda") + 1, "beside ORT's"


def test_the_row_is_skipped_without_openvino(monkeypatch, tmp_path: Path):
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` raises ImportError
    row = rows(tmp_path / "act.onnx")["openvino cpu"]
    assert row.skipped == NOT_INSTALLED and not row.backend
    assert rows(None)["openvino cpu"].skipped == "no ONNX model"


def test_bench_reports_the_skipped_row(monkeypatch, bench_onnx: Path):
    """A whole bench without openvino: the row is in the table and the JSON with its reason, and
    every other backend is measured as before."""
    monkeypatch.setitem(sys.modules, "openvino", None)
    result = run_bench(
        BenchOptions(onnx=bench_onnx, repeats=3, warmup=1, observations=2, stages=False),
        log=lambda _m: None,
    )
    by_name = {r["name"]: r for r in result.data["inference"]}
    assert by_name["openvino cpu"]["status"] == "skipped"
    assert by_name["openvino cpu"]["reason"] == NOT_INSTALLED
    assert by_name["onnxruntime cpu"]["status"] == "ok"
    assert f"openvino cpu ({NOT_INSTALLED})" in result.text
