"""LeRobot's files beside an export: written for `lerobot-rollout --policy.path`, never over
another policy's config.json."""

from __future__ import annotations

import json

from act_tool.export.lerobot_files import CONFIG, POLICY_TYPE, write_lerobot_files
from act_tool.testing.specs import make_spec


def test_the_config_names_the_plugin_type_and_the_artifact_features(tmp_path):
    spec = make_spec()
    paths = write_lerobot_files(tmp_path, spec)
    assert sorted(p.name for p in paths) == sorted(
        [CONFIG, "policy_preprocessor.json", "policy_postprocessor.json"]
    )
    config = json.loads((tmp_path / CONFIG).read_text())
    assert config["type"] == POLICY_TYPE
    for cam in spec.cameras:
        assert config["input_features"][cam.key]["shape"] == [3, cam.height, cam.width]
    assert config["output_features"]["action"]["shape"] == [len(spec.action_names)]
    assert config["n_action_steps"] == spec.n_action_steps


def test_another_policys_config_is_left_alone(tmp_path):
    (tmp_path / CONFIG).write_text(json.dumps({"type": "act"}))
    assert write_lerobot_files(tmp_path, make_spec()) == []
    assert json.loads((tmp_path / CONFIG).read_text()) == {"type": "act"}
    assert not (tmp_path / "policy_preprocessor.json").exists()
