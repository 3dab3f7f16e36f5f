"""Evaluation fixtures: the tiny policy's act.onnx (from tests/runtime's export) and MuJoCo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.conftest import _export


@pytest.fixture(scope="session")
def eval_onnx(tiny_checkpoint, tmp_path_factory) -> Path:
    pytest.importorskip("mujoco", reason="the `sim` extra (MuJoCo) is not installed")
    return _export(tiny_checkpoint, tmp_path_factory.mktemp("eval_export"))


from tests.runtime.conftest import tiny_onnx  # noqa: E402, F401  (the arm's tests use it too)
