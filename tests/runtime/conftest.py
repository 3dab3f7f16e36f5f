"""Runtime fixtures: tiny checkpoints with 100-action chunks, exported once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


def _export(ckpt: Path, out: Path) -> Path:
    from act_tool.export.pipeline import ExportOptions, run_export

    result = run_export(ExportOptions(ckpt, out, builder="onnx"), log=lambda _: None)
    return result.artifacts[0]


@pytest.fixture(scope="session")
def chunk100(tmp_path_factory) -> tuple[Path, Path]:
    """(checkpoint, act.onnx) of a tiny policy with chunk_size 100, n_action_steps 100."""
    pytest.importorskip("lerobot")
    from act_tool.testing.tiny_checkpoint import TinyConfig, save_tiny_checkpoint

    root = tmp_path_factory.mktemp("chunk100")
    ckpt = save_tiny_checkpoint(
        root / "pretrained_model", TinyConfig(chunk_size=100, n_action_steps=100)
    )
    return ckpt, _export(ckpt, root / "export")


@pytest.fixture(scope="session")
def chunk100_steps10(tmp_path_factory) -> tuple[Path, Path]:
    """(checkpoint, act.onnx) with chunk_size 100, n_action_steps 10."""
    pytest.importorskip("lerobot")
    from act_tool.testing.tiny_checkpoint import TinyConfig, save_tiny_checkpoint

    root = tmp_path_factory.mktemp("chunk100_steps10")
    ckpt = save_tiny_checkpoint(
        root / "pretrained_model", TinyConfig(chunk_size=100, n_action_steps=10, seed=3)
    )
    return ckpt, _export(ckpt, root / "export")


@pytest.fixture(scope="session")
def tiny_onnx(tiny_checkpoint, tmp_path_factory) -> Path:
    """act.onnx of the shared tiny checkpoint (chunk_size 10)."""
    return _export(tiny_checkpoint, tmp_path_factory.mktemp("tiny_export"))
