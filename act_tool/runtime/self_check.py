"""The on-target self-check: before the arm can move, the loaded runner computes the actions
of the observations in the artifact's check file (act_tool.runtime.check_file), on this
machine, with this library and GPU, and they must match LeRobot's within the bound of the
artifact's precision, the same bound export's parity gate held the artifact to.

It catches what export could not see: an FP16 overflow on one GPU, a bad tactic, a plan built
from another ONNX, an artifact whose weights were edited after export. Refused before torque:

- SelfCheckFailed: the actions differ beyond the bound (the error, the bound, what to do);
- ArtifactChanged: the artifact's bytes are not those its check file was written for, though
  its spec was updated to match them; the numeric check says how far its actions moved;
- ForeignCheckFile: the check file belongs to another artifact;
- MissingCheckFile: no check file; the only one `skip` (`--skip-self-check`) overrides.

numpy only (no torch, no LeRobot).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from act_tool.errors import ActToolError
from act_tool.runtime.check_file import CheckData, check_path
from act_tool.runtime.runners.base import ACTION, Runner
from act_tool.spec import EngineSpec, sha256_file

Log = Callable[[str], None]
SKIP_FLAG = "--skip-self-check"


class SelfCheckError(ActToolError):
    """The self-check refused the artifact: nothing has moved, torque was never enabled."""


class SelfCheckFailed(SelfCheckError):
    """The runner's actions differ from LeRobot's beyond the precision's bound."""


class ArtifactChanged(SelfCheckError):
    """The artifact is not the one exported with its check file (weights edited after export)."""


class ForeignCheckFile(SelfCheckError):
    """The check file beside the artifact was written for another artifact."""


class MissingCheckFile(SelfCheckError):
    """No check file: the one case `--skip-self-check` overrides."""


@dataclass(frozen=True)
class SelfCheckResult:
    worst_rel: float  # the largest error over every observation and action, / action std
    bound: float
    n: int
    seconds: float

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.worst_rel)) and self.worst_rel <= self.bound


def on_gpu(runner: Runner) -> bool:
    """Whether the runner computes on a GPU (where FP32 products may run in TF32)."""
    return bool(getattr(runner, "on_gpu", False))


def run_self_check(runner: Runner, log: Log = print, skip: bool = False) -> SelfCheckResult | None:
    """Check the entered `runner` against its artifact's check file; see the module docstring.
    Returns None only when the check file is missing and `skip` allows that."""
    t0 = time.perf_counter()
    artifact, spec = runner.artifact, runner.spec
    if artifact.is_dir():
        log(
            "self-check: not needed for a checkpoint folder: the PyTorch runner computes with "
            "LeRobot's own weights (check files belong to exported artifacts)"
        )
        return None
    path = artifact.with_name(spec.check_file) if spec.check_file else check_path(artifact)
    if not path.is_file():
        return _missing(artifact, path, spec, log, skip)
    if skip:
        log(
            f"note: {SKIP_FLAG} has no effect here: {path.name} is present, so the self-check "
            "runs (it overrides only a missing check file, never a failing check)"
        )
    check = CheckData.read(path)
    actual = runner.verified_sha256 or sha256_file(artifact)  # hashed once per start
    changed = _identity(artifact, path, spec, check, actual)
    worst, where = _worst_error(runner, check)
    bound = check.gpu_bound if on_gpu(runner) else check.bound
    result = SelfCheckResult(worst, bound, check.n, time.perf_counter() - t0)
    runner.reset()
    figure = (
        f"worst error {worst:.2e} of the action std (bound {bound:.0e}, "
        f"{check.precision.upper()}{', GPU' if on_gpu(runner) else ''})"
    )
    if changed:
        raise ArtifactChanged(
            f"{artifact.name} was changed after export: its sha256 is {actual[:12]}..., but its "
            f"check file {path.name} was written for {check.artifact_sha256[:12]}... (its spec's "
            "sha256 was updated to match the new bytes). The numeric check on the exported "
            f"observations: {figure}"
            + (
                ": its actions no longer match LeRobot's, so the weights were changed."
                if not result.passed
                else "; its actions still agree, but act-tool runs only what export checked."
            )
            + " Not starting; torque stays off. Export again from the checkpoint "
            f"(act-tool export {spec.source_checkpoint or '<checkpoint>'})."
        )
    log(
        f"self-check: {artifact.name} on {runner.description}: {check.n} observations "
        f"({_sources(check)}), {figure} -> {'PASS' if result.passed else 'FAIL'} "
        f"({result.seconds * 1e3:.0f} ms)"
    )
    if not result.passed:
        raise SelfCheckFailed(_failure_text(runner, check, result, where))
    return result


def _missing(artifact: Path, path: Path, spec: EngineSpec, log: Log, skip: bool) -> None:
    if skip:
        log(
            f"WARNING: {SKIP_FLAG}: no check file ({path.name}) beside {artifact.name}, so this "
            "engine's actions on this machine are NOT checked against LeRobot's before the arm "
            "moves. Export again to get one."
        )
        return None
    why = (
        "its spec names it, but the file is gone"
        if spec.check_file
        else "exported before act-tool wrote check files, or built from an ONNX without one"
    )
    raise MissingCheckFile(
        f"{artifact.name} has no check file ({path.name}: {why}), so its actions on this machine "
        "cannot be checked against LeRobot's before the arm moves. Not starting; torque stays "
        f"off. Copy {path.name} from the export folder, export again, or pass {SKIP_FLAG} to "
        "run unchecked."
    )


def _identity(artifact: Path, path: Path, spec: EngineSpec, check: CheckData, actual: str) -> bool:
    """Raise ForeignCheckFile for a check file of another artifact, SelfCheckError for one
    edited after export; return True when the artifact itself changed after export."""
    own = not spec.check_sha256 or sha256_file(path) == spec.check_sha256
    if check.artifact_sha256 == actual:
        if not own:
            raise SelfCheckError(
                f"{path.name} was changed after export (its sha256 differs from the one its "
                f"spec records), so its reference actions cannot be trusted. Not starting; "
                f"torque stays off. Copy {path.name} from the export folder or export again."
            )
        return False
    if own and spec.check_sha256:
        return True  # the check file is the exported one: the artifact's bytes moved
    raise ForeignCheckFile(
        f"{path.name} belongs to another artifact: it was written for {check.artifact} "
        f"(sha256 {check.artifact_sha256[:12]}...), and this {artifact.name} is "
        f"{actual[:12]}.... Not starting; torque stays off. Put the check file exported with "
        f"this artifact beside it (from the same export folder), or export again."
    )


def _worst_error(runner: Runner, check: CheckData) -> tuple[float, tuple[int, int]]:
    """The largest |runner - LeRobot| / std over the check's observations, and where it was
    (observation, action dimension)."""
    names = tuple(runner.inputs)
    if sorted(names) != sorted(check.input_names):
        raise ForeignCheckFile(
            f"the check file's inputs {list(check.input_names)} are not this artifact's "
            f"{list(names)}: it belongs to another policy. Export again."
        )
    scale = np.where(check.scale > 0, check.scale, 1.0)
    worst, where = -1.0, (0, 0)
    for i in range(check.n):
        for name, batch in zip(check.input_names, check.inputs, strict=True):
            target = runner.inputs[name]
            if target.shape[1:] != batch.shape[1:]:
                raise ForeignCheckFile(
                    f"the check file's {name} is {list(batch.shape[1:])}, this artifact's "
                    f"{list(target.shape[1:])}: it belongs to another policy. Export again."
                )
            np.copyto(target[0], batch[i])
        got = runner.infer()[ACTION][0].astype(np.float64)
        err = np.abs(got - check.reference[i]) / scale
        err = np.where(np.isfinite(err), err, np.inf)
        j = int(np.argmax(err))
        if err.flat[j] > worst:
            worst, where = float(err.flat[j]), (i, j % err.shape[-1])
    return worst, where


def _sources(check: CheckData) -> str:
    counts: dict[str, int] = {}
    for s in check.sources:
        kind = "random" if s == "random" else "dataset"
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def _failure_text(
    runner: Runner, check: CheckData, result: SelfCheckResult, where: tuple[int, int]
) -> str:
    spec, artifact = runner.spec, runner.artifact
    obs, dim = where
    action = spec.action_names[dim] if dim < len(spec.action_names) else f"#{dim}"
    folder = artifact.parent
    if check.built_from:  # a plan: rebuild it here from the ONNX it came from
        todo = [
            f"rebuild the engine on this machine: act-tool engine {folder / check.built_from} "
            f"-o {artifact}"
        ]
    else:
        todo = [
            f"export again on this machine: act-tool export "
            f"{spec.source_checkpoint or '<checkpoint>'} -o {folder}"
        ]
    if spec.precision != "fp32":
        todo.append(f"try the FP32 model ({folder / 'act.onnx'}, or an engine built from it)")
    elif on_gpu(runner):
        todo.append("run it on the CPU (--device cpu) to see whether this GPU is the cause")
    return (
        f"self-check FAILED: {artifact.name} on {runner.description} differs from LeRobot's "
        f"actions by {result.worst_rel:.2e} of the action std (observation {obs} "
        f"({check.sources[obs]}), {action}); the bound for {check.precision.upper()} is "
        f"{result.bound:.0e}. This engine computes wrong actions on this machine. Not "
        "starting; torque stays off. What to do: " + "; or ".join(todo) + "."
    )
