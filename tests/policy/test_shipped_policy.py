"""The policy this project ships (models/act_so101_twin) loads in LeRobot and exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MODEL = Path(__file__).resolve().parents[2] / "models" / "act_so101_twin"
MAX_BYTES = 60_000_000


def test_the_shipped_folder_is_a_lerobot_act_checkpoint_with_its_card():
    assert (MODEL / "config.json").is_file(), f"{MODEL} is missing"
    config = json.loads((MODEL / "config.json").read_text())
    assert config["type"] == "act"
    assert set(config["input_features"]) == {
        "observation.state", "observation.images.front", "observation.images.handeye"}  # fmt: skip
    size = sum(p.stat().st_size for p in MODEL.iterdir() if p.is_file())
    assert size <= MAX_BYTES, f"{size / 1e6:.1f} MB"
    card = (MODEL / "README.md").read_text()
    for fact in ("make twin-policy", "seeds", "steps", "success"):
        assert fact in card, fact


@pytest.mark.slow
def test_the_shipped_policy_loads_in_lerobot_and_exports(tmp_path):
    pytest.importorskip("lerobot")
    pytest.importorskip("onnx")
    from lerobot.policies.act.modeling_act import ACTPolicy

    from act_tool.export.pipeline import ExportOptions, run_export

    policy = ACTPolicy.from_pretrained(MODEL)
    assert policy.config.image_features and policy.config.chunk_size > 0
    out = run_export(ExportOptions(MODEL, tmp_path / "export", builder="onnx"))
    assert [p.name for p in out.artifacts] == ["act.onnx"]  # written only past the parity gate
    spec = json.loads((tmp_path / "export" / "act.onnx.json").read_text())
    assert [c["key"] for c in spec["cameras"]] == [
        "observation.images.front", "observation.images.handeye"]  # fmt: skip
