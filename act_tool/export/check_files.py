"""The self-check files export writes beside each artifact (act_tool.runtime.check_file): a few
of the parity observations, LeRobot's actions for them (the parity gate's own reference), the
gate's bound for the artifact's precision, and the artifact's sha256. A plan gets the check file
of the ONNX it was built from, with the plan's identity recorded.

A few observations only: `act-tool run` computes them during warm-up, and the warm-up runs
LOOP_WARMUP inferences; random frames (noise and smooth blobs) and, where export has them,
dataset frames.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from act_tool.runtime.check_file import CheckData, check_path
from act_tool.spec import EngineSpec, sha256_file

CHECK_OBSERVATIONS = 3  # as many as the loop's warm-up inferences (LoopConfig.warmup)


def pick(observations: dict, references: dict) -> tuple[list, np.ndarray, list[str]]:
    """CHECK_OBSERVATIONS of the parity observations: the first random one (noise) and, with a
    dataset, dataset frames spread over it; otherwise random ones (noise and smooth alternate).
    Returns (observations, LeRobot's chunks for them, their sources)."""
    datasets = [s for s in observations if s != "random"]
    chosen: list[tuple[str, int]] = []
    if datasets:
        src = datasets[0]
        spread = np.linspace(0, len(observations[src]) - 1, CHECK_OBSERVATIONS - 1)
        chosen = [("random", 0)] + [(src, int(i)) for i in sorted(set(spread.round()))]
    i = 1 if chosen else 0  # random 0 is taken already beside a dataset
    while len(chosen) < CHECK_OBSERVATIONS and i < len(observations["random"]):
        chosen.append(("random", i))
        i += 1
    obs = [observations[s][i] for s, i in chosen]
    refs = np.stack([references[s][i] for s, i in chosen])
    return obs, refs, [s for s, _ in chosen]


def make_check(
    artifact: Path,
    spec: EngineSpec,
    observations: list,
    reference: np.ndarray,
    sources: list[str],
    scale: np.ndarray,
    bound: float,
    gpu_bound: float,
) -> CheckData:
    """The check data of `artifact` (exported, its spec written with its sha256)."""
    from act_tool.export.parity import artifact_inputs

    feeds = [artifact_inputs(o, spec) for o in observations]
    names = tuple(feeds[0])
    return CheckData(
        artifact=Path(artifact).name,
        artifact_sha256=spec.sha256,
        precision=spec.precision,
        input_names=names,
        inputs=tuple(np.concatenate([f[name] for f in feeds]) for name in names),
        reference=reference.astype(np.float32),
        scale=np.asarray(scale, dtype=np.float64),
        bound=bound,
        gpu_bound=gpu_bound,
        sources=tuple(sources),
    )


def write_check(check: CheckData, artifact: Path, spec: EngineSpec) -> EngineSpec:
    """Write `check` beside `artifact`; return `spec` naming it (file name and sha256)."""
    path = check_path(artifact)
    check.write(path)
    return replace(spec, check_file=path.name, check_sha256=sha256_file(path))


def plan_check(network_check: CheckData, network: Path, plan: Path) -> CheckData:
    """The check of a plan built from `network`: the network's observations, reference and
    bounds, with the plan's identity and where it came from."""
    return network_check.for_artifact(
        plan,
        sha256_file(plan),
        built_from=Path(network).name,
        built_from_sha256=network_check.artifact_sha256,
    )
