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

# LeRobot options a resumed run may change: they do not change the model or its data (how
# often it logs, saves and evaluates, where its logs and uploads go, how frames are loaded).
# --steps and the device are act-tool's own options, checked elsewhere.
CHANGEABLE = frozenset(
    {"log_freq", "save_freq", "save_checkpoint", "num_workers", "prefetch_factor",
     "persistent_workers", "dataloader_multiprocessing_context", "job_name", "env_eval_freq",
     "eval_steps", "max_eval_samples", "cudnn_deterministic", "save_checkpoint_to_hub",
     "policy.push_to_hub", "policy.repo_id", "policy.private", "policy.tags", "policy.license",
     "dataset.video_backend"}
)  # fmt: skip
CHANGEABLE_PREFIXES = ("wandb.", "eval.", "job.")
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
        name = key.replace("-", "_")
        if name in CHANGEABLE or name.startswith(CHANGEABLE_PREFIXES):
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
        if not Path(saved_root).exists():  # moved: the same features, or another dataset
            _check_features(config, output, dataset)
            return
        where = f"{saved_root}, not {dataset.root}"
    elif dataset.root is None and saved_root is None and saved.get("repo_id") == dataset.repo_id:
        return
    else:
        where = f"{saved_root or saved.get('repo_id')}, not {dataset.source}"
    raise TrainError(f"the run in {output} trains on {where}: resume without --dataset, {NEW_RUN}")


def _check_features(config: dict, output: Path, dataset: DatasetSummary) -> None:
    """A dataset given for a run whose own is gone must have the run's cameras (name and size)
    and state and action sizes."""
    policy = config.get("policy") or {}
    features = {**(policy.get("input_features") or {}), **(policy.get("output_features") or {})}
    if not features or not dataset.cameras:
        return  # nothing to compare against (a config without features, or an unread dataset)
    saved = {k: tuple(v.get("shape", ())) for k, v in features.items()}
    given = {f"observation.images.{name}": (3, h, w) for name, h, w in dataset.cameras}
    given["observation.state"] = (dataset.state_dim,)
    given["action"] = (dataset.action_dim,)
    if saved != given:
        raise TrainError(
            f"the run in {output} trained on a dataset with {_describe(saved)}; "
            f"{dataset.source} has {_describe(given)}: resume without --dataset, {NEW_RUN}"
        )


def _describe(features: dict[str, tuple[int, ...]]) -> str:
    return ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in sorted(features.items()))
