"""Export fixtures: one full export of the tiny policy, shared by the export tests."""

from __future__ import annotations

import pytest


def have_rtx() -> bool:
    from act_tool import gpu

    return "tensorrt-rtx" in gpu.installed_builders()


@pytest.fixture(scope="session")
def exported(tiny_checkpoint, tiny_dataset, tmp_path_factory):
    """One full export (FP32 + FP16 + engine when TensorRT-RTX is here, parity on random and
    dataset frames) shared by the checks: (folder, result, log, builder)."""
    from act_tool.export.pipeline import ExportOptions, run_export

    out = tmp_path_factory.mktemp("export")
    builder = "tensorrt-rtx" if have_rtx() else "onnx"
    logs: list[str] = []
    result = run_export(
        ExportOptions(tiny_checkpoint, out, fp16=True, builder=builder, dataset=tiny_dataset),
        log=logs.append,
    )
    return out, result, "\n".join(logs), builder
