"""`act-tool bench` self-checks every exported artifact in the worker that measures it: an
artifact without a check file is that row's failure unless --skip-self-check (said loudly), and
a changed artifact fails whatever the flag."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from act_tool.bench.suite import BenchOptions, run_bench
from act_tool.runtime.check_file import check_path
from act_tool.spec import spec_path
from tests.runtime.test_self_check import tamper


@pytest.fixture
def onnx_copy(bench_onnx: Path, tmp_path: Path, monkeypatch) -> Path:
    from act_tool.bench import machine

    # the machine's peak is not what these tests are about: skip its seconds of matrix products
    monkeypatch.setattr(machine, "cpu_peak_flops", lambda: (1e9, "not measured (test)"))
    for src in (bench_onnx, spec_path(bench_onnx), check_path(bench_onnx)):
        shutil.copy(src, tmp_path / src.name)
    return tmp_path / bench_onnx.name


def bench_row(onnx: Path, skip: bool) -> tuple[dict, list[str]]:
    logs: list[str] = []
    opts = BenchOptions(
        onnx=onnx, repeats=3, warmup=1, observations=2, stages=False, skip_self_check=skip
    )
    data = run_bench(opts, log=logs.append).data
    return {r["name"]: r for r in data["inference"]}["onnxruntime cpu"], logs


def test_the_self_check_runs_before_the_timing(onnx_copy):
    row, logs = bench_row(onnx_copy, skip=False)
    assert row["status"] == "ok", row
    assert any("self-check: act.onnx" in line and "PASS" in line for line in logs)


def test_no_check_file_fails_the_row_unless_skipped(onnx_copy):
    check_path(onnx_copy).unlink()
    row, _ = bench_row(onnx_copy, skip=False)
    assert row["status"] == "failed" and "MissingCheckFile" in row["reason"]
    assert "act.onnx has no check file" in row["reason"]
    row, logs = bench_row(onnx_copy, skip=True)
    assert row["status"] == "ok", row
    assert any(line.startswith("WARNING: --skip-self-check") for line in logs)
    assert any("WARNING: --skip-self-check: no check file" in line for line in logs)


def test_a_changed_artifact_fails_whatever_the_flag(onnx_copy):
    tamper(onnx_copy, 0.5)
    row, _ = bench_row(onnx_copy, skip=True)
    assert row["status"] == "failed" and "ArtifactChanged" in row["reason"]
    assert "act.onnx was changed after export" in row["reason"]
