"""A resumed run keeps its dataset and settings: refuse a resume that would change them.

LeRobot applies command-line overrides on top of a resumed run's saved config without a word,
so `--resume --dataset OTHER` or `-- --policy.chunk_size=40` would quietly continue the run on
other data or turn its weights into a different model. Only what does not change what is
learned may differ: how long, how often it logs and saves, where it runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from act_tool.train.dataset_check import DatasetSummary
from act_tool.train.errors import TrainError

# LeRobot options a resumed run may change: they do not change the model or its data.
CHANGEABLE = frozenset(
    {"steps", "log_freq", "save_freq", "save_checkpoint", "num_workers", "policy.device",
     "prefetch_factor", "persistent_workers", "job_name", "env_eval_freq"}
)  # fmt: skip
NEW_RUN = "or start a new run with another --output to change it"


def saved_value(config: dict, key: str) -> object:
    """The value of a dotted LeRobot option (`policy.chunk_size`) in a saved train config;
    KeyError when the config has no such option."""
    node: object = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def same_value(given: str, saved: object) -> bool:
    """Whether a command-line value (text) means the saved JSON value."""
    if isinstance(saved, bool):
        return given.lower() == str(saved).lower()
    if saved is None:
        return given.lower() in ("null", "none")
    if isinstance(saved, int | float):
        try:
            return float(given) == float(saved)
        except ValueError:
            return False
    if isinstance(saved, str):
        return given == saved
    try:
        return json.loads(given) == saved
    except json.JSONDecodeError:
        return False


def check_resume_unchanged(
    config: dict,
    output: Path,
    dataset: DatasetSummary | None,
    batch_size: int | None,
    passthrough: dict[str, str],
) -> None:
    """Raise TrainError when a resume asks for another dataset, batch size or LeRobot setting
    than the run in `output` was started with (`config`: its saved train_config.json)."""
    if dataset is not None:
        _check_dataset(config, output, dataset)
    if batch_size is not None and batch_size != config.get("batch_size"):
        raise TrainError(
            f"the run in {output} trains with batch size {config.get('batch_size')}: resume "
            f"without --batch-size, {NEW_RUN}"
        )
    for key, given in passthrough.items():
        if key.replace("-", "_") in CHANGEABLE:
            continue
        try:
            saved = saved_value(config, key)
        except KeyError:
            continue  # not a saved option: LeRobot's own parser names it
        if not same_value(given, saved):
            raise TrainError(
                f"the run in {output} was started with --{key}={json.dumps(saved)}, not {given}: "
                f"a resumed run keeps its settings; drop -- --{key}, {NEW_RUN}"
            )


def _check_dataset(config: dict, output: Path, dataset: DatasetSummary) -> None:
    saved = config.get("dataset") or {}
    saved_root = saved.get("root")
    if dataset.root is not None and saved_root is not None:
        if Path(saved_root).resolve() == dataset.root.resolve():
            return
        if not Path(saved_root).exists():  # the dataset was moved: the same data elsewhere
            return
        where = f"{saved_root}, not {dataset.root}"
    elif dataset.root is None and saved_root is None and saved.get("repo_id") == dataset.repo_id:
        return
    else:
        where = f"{saved_root or saved.get('repo_id')}, not {dataset.source}"
    raise TrainError(f"the run in {output} trains on {where}: resume without --dataset, {NEW_RUN}")
