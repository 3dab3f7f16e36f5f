"""A TensorRT plan from an exported ONNX (`act.fp16.onnx`), on the machine that will run it (a
Jetson, whose TensorRT builds only for its own GPU), without the checkpoint or LeRobot.

The plan's spec is the ONNX's, with the builder's facts; its check file is the ONNX's (the same
observations, LeRobot's reference and bounds) with the plan's identity recorded, so `run`
self-checks the plan exactly as export would have. Staged in a temporary folder beside the plan
and renamed into place when complete.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from act_tool.errors import ActToolError
from act_tool.runtime.check_file import CheckData, check_path
from act_tool.spec import EngineSpec, spec_path


def plan_spec(network_spec: EngineSpec, plan: Path, network: str, info) -> EngineSpec:
    """The spec of `plan` built from the ONNX `network` (whose spec is `network_spec`) by a
    build that returned `info` (export.engine.BuildInfo); the ONNX's parity figures apply."""
    parity = dict(network_spec.parity)
    parity["engine"] = (
        f"built from {network}; its ONNX parity figures apply. The self-check measures the "
        "engine itself on the machine that runs it; `act-tool bench` on the GPU too."
    )
    spec = network_spec.with_artifact(
        plan, builder=info.builder, builder_version=info.version, target=info.target
    )
    return replace(spec, parity=parity, check_file="", check_sha256="")


def network_check(onnx: Path, spec: EngineSpec) -> CheckData | None:
    """The ONNX's check file (None when it has none); refused when it belongs to another file."""
    path = onnx.with_name(spec.check_file) if spec.check_file else check_path(onnx)
    if not path.is_file():
        return None
    check = CheckData.read(path)
    if check.artifact_sha256 != spec.sha256:
        raise ActToolError(
            f"{path.name} belongs to another artifact ({check.artifact}, sha256 "
            f"{check.artifact_sha256[:12]}...), not {onnx.name}: copy the check file exported "
            "with this ONNX beside it, or export again."
        )
    return check


def build_plan_from_onnx(
    onnx: Path,
    plan: Path | None = None,
    builder: str | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Build `plan` (default: act.plan beside the ONNX) from `onnx`; see the module docstring."""
    from act_tool.export import engine
    from act_tool.export.check_files import plan_check, write_check

    onnx = Path(onnx)
    plan = Path(plan) if plan else onnx.with_name("act.plan")
    spec = EngineSpec.read(spec_path(onnx))
    spec.verify_artifact(onnx)
    if spec.precision == "int8":
        raise ActToolError(
            f"{onnx.name} is the INT8 model, for CPU runtimes (ONNX Runtime, OpenVINO); act-tool "
            "builds no TensorRT engine from it (not checked here). Build the engine from "
            f"{onnx.with_name('act.fp16.onnx')} or {onnx.with_name('act.onnx')}."
        )
    check = network_check(onnx, spec)
    builder = engine.resolve_builder(builder)
    if builder == engine.ONNX:
        raise ActToolError("--builder onnx builds no engine: run the ONNX file itself.")
    plan.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".act-engine-", dir=plan.parent) as tmp:
        staged = Path(tmp) / plan.name
        log(f"building a TensorRT engine with {builder} from {onnx.name} ...")
        info = engine.build_engine(onnx, staged, builder)
        pspec = plan_spec(spec, staged, onnx.name, info)
        if check is not None:
            pspec = write_check(plan_check(check, onnx, staged), staged, pspec)
        else:
            log(
                f"WARNING: {onnx.name} has no check file, so {plan.name} gets none: `run` will "
                "refuse it unless --skip-self-check. Export again to get one."
            )
        pspec.write(spec_path(staged))
        for src in (staged, check_path(staged), spec_path(staged)):
            if src.exists():
                shutil.move(str(src), str(plan.with_name(src.name)))
    log(
        f"built {plan} ({info.plan_bytes / 1e6:.1f} MB, {builder} {info.version}, target "
        f"{info.target}) in {info.build_seconds:.1f} s; check file: "
        f"{check_path(plan).name if check is not None else 'none'}"
    )
    return plan
