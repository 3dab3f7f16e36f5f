"""The files LeRobot reads from a `--policy.path` folder, written beside the artifacts so that
`lerobot-rollout --policy.path=EXPORT_DIR` loads them through the `lerobot_policy_act_tool`
plugin (plugins/lerobot_policy_act_tool):

- config.json: `"type": "act_tool"` (LeRobot picks the plugin's config class by it), the
  features (LeRobot checks the robot's cameras against them and maps actions to joints), and the
  spec's execution defaults (n_action_steps, temporal_ensemble_coeff);
- policy_preprocessor.json / policy_postprocessor.json: LeRobot's processor pipelines, with the
  steps LeRobot's rollout configures by name (renaming, batching, device) and no normalization:
  the graph normalizes and unnormalizes itself.

Plain JSON: no LeRobot import here (tests load the files with LeRobot's own classes).
"""

from __future__ import annotations

import json
from pathlib import Path

from act_tool.spec import EngineSpec, atomic_write_text

POLICY_TYPE = "act_tool"
STATE = "observation.state"
CONFIG = "config.json"
PREPROCESSOR = "policy_preprocessor.json"
POSTPROCESSOR = "policy_postprocessor.json"


def lerobot_config(spec: EngineSpec) -> dict:
    inputs = {STATE: {"type": "STATE", "shape": [len(spec.state_names)]}}
    for cam in spec.cameras:
        inputs[cam.key] = {"type": "VISUAL", "shape": [3, cam.height, cam.width]}
    return {
        "type": POLICY_TYPE,
        "n_obs_steps": 1,
        "input_features": inputs,
        "output_features": {"action": {"type": "ACTION", "shape": [len(spec.action_names)]}},
        "device": "cpu",  # the observations stay on the CPU; a TensorRT runner uploads them
        "use_amp": False,
        "push_to_hub": False,
        "backend": "auto",
        "artifact": None,
        "n_action_steps": spec.n_action_steps,
        "temporal_ensemble_coeff": spec.temporal_ensemble_coeff,
        "skip_self_check": False,
        "threads": None,
        "torch_threads": 1,
    }


def _pipeline(name: str, steps: list[dict]) -> dict:
    return {"name": name, "steps": steps}


def foreign_config(folder: Path) -> str | None:
    """The policy type of a config.json in `folder` that is not ours (a LeRobot checkpoint's,
    when exporting into the checkpoint folder itself), else None."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        return None
    try:
        kind = json.loads(path.read_text()).get("type")
    except (json.JSONDecodeError, AttributeError):
        return "unreadable"
    return None if kind == POLICY_TYPE else str(kind)


def write_lerobot_files(folder: Path, spec: EngineSpec) -> list[Path]:
    """Write config.json and the two processor files into `folder`; returns their paths, or
    [] when `folder` holds another policy's config.json (never overwritten)."""
    folder = Path(folder)
    if foreign_config(folder) is not None:
        return []
    device = {"registry_name": "device_processor", "config": {"device": "cpu", "float_dtype": None}}
    files = {
        CONFIG: lerobot_config(spec),
        PREPROCESSOR: _pipeline(
            "policy_preprocessor",
            [
                {"registry_name": "rename_observations_processor", "config": {"rename_map": {}}},
                {"registry_name": "to_batch_processor", "config": {}},
                device,
            ],
        ),
        POSTPROCESSOR: _pipeline("policy_postprocessor", [device]),
    }
    paths = []
    for name, data in files.items():
        atomic_write_text(folder / name, json.dumps(data, indent=2) + "\n")
        paths.append(folder / name)
    return paths
