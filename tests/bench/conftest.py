"""Bench fixtures: the shared tiny checkpoint's act.onnx, exported once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bench_onnx(tiny_checkpoint, tmp_path_factory) -> Path:
    from act_tool.export.pipeline import ExportOptions, run_export

    out = tmp_path_factory.mktemp("bench_onnx")
    run_export(ExportOptions(tiny_checkpoint, out, builder="onnx"), log=lambda _: None)
    return out / "act.onnx"
