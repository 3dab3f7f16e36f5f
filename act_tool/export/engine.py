"""Build a TensorRT engine (plan) from an ONNX file, with enterprise TensorRT or TensorRT-RTX.

Both libraries share one Python API (`import tensorrt` / `import tensorrt_rtx`), so one builder
serves both. Networks are always strongly typed: precision comes from the ONNX (an FP16 ONNX
gives an FP16 engine), never from builder flags (TensorRT 11 removed weak typing altogether).

- Enterprise TensorRT builds for the GPU it runs on: the plan loads only on the same GPU model
  and TensorRT version, and building needs a GPU. `BuildInfo.target` is that GPU's compute
  capability ("sm_89").
- TensorRT-RTX builds ahead of time on the CPU, no GPU needed. By default (no compute capability
  set) its plans are portable across the RTX GPUs of NVIDIA's support matrix (8.6, 8.9, 12.0;
  see act_tool/gpu.py): `BuildInfo.target` is "portable". Turing (sm_75) needs an explicit
  target.

The plan is written under a temporary name beside its final path and renamed into place only
when complete, so a failed or interrupted build never leaves a partial plan.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from act_tool import gpu
from act_tool.errors import BuilderError
from act_tool.gpu import INSTALL_HINTS, MODULES, PORTABLE, TENSORRT, TENSORRT_RTX, WARNING

ONNX = "onnx"
_BUILD_LOCK = threading.Lock()  # one build at a time: the logger is shared


@dataclass(frozen=True)
class BuildInfo:
    """What a build produced: the facts a spec JSON records beside the plan."""

    builder: str  # "tensorrt" or "tensorrt-rtx"
    version: str  # the builder library's version, e.g. "10.3.0" or "1.7.1.116"
    target: str  # "sm_89" (enterprise: the build GPU), "portable" or "sm_75,sm_86" (RTX)
    build_seconds: float
    plan_bytes: int
    warnings: tuple[str, ...]  # TensorRT's log messages of severity WARNING


# --- which builder -----------------------------------------------------------------------------


def resolve_builder(name: str | None) -> str:
    """Turn a `--builder` choice into a usable builder name, or raise BuilderError saying why not.

    None picks whichever builder is installed and usable here: enterprise TensorRT when a GPU is
    present, else TensorRT-RTX. "onnx" (no engine, run the ONNX file) is passed through.
    """
    if name == ONNX:
        return ONNX
    if name is None:
        installed = gpu.installed_builders()
        if TENSORRT in installed and gpu.compute_capability() is not None:
            return TENSORRT
        if TENSORRT_RTX in installed:
            return TENSORRT_RTX
        if TENSORRT in installed:
            return resolve_builder(TENSORRT)  # raises the no-GPU error
        raise BuilderError(
            "No TensorRT builder is installed. Install one with "
            f"{INSTALL_HINTS[TENSORRT_RTX]}, or {INSTALL_HINTS[TENSORRT]}; "
            "or use --builder onnx to run the ONNX model without an engine."
        )
    if name not in MODULES:
        choices = ", ".join([*MODULES, ONNX])
        raise BuilderError(f"Unknown builder {name!r}. Choose one of: {choices}.")
    if not gpu.module_installed(MODULES[name]):
        others = [b for b in gpu.installed_builders() if b != name]
        instead = f"--builder {others[0]}" if others else "--builder onnx"
        raise BuilderError(
            f"The {name} builder needs the Python module '{MODULES[name]}', which is not "
            f"installed. Install it with: {INSTALL_HINTS[name]}; or use {instead} instead."
        )
    if name == TENSORRT and gpu.compute_capability() is None:
        raise BuilderError(
            "Enterprise TensorRT builds engines on a CUDA GPU, and no GPU was found on this "
            "machine. Use --builder tensorrt-rtx (builds portable engines without a GPU) or "
            "--builder onnx (run the ONNX model without an engine)."
        )
    return name


# --- building -----------------------------------------------------------------------------------


def _warnings(logger: Any) -> tuple[str, ...]:
    return tuple(m for s, m in logger.messages if s == WARNING)


def _errors(logger: Any) -> list[str]:
    return [m for s, m in logger.messages if s < WARNING]


def _network_flags(trt: Any) -> int:
    """STRONGLY_TYPED where the enum has it (TensorRT 10.x, TensorRT-RTX); 11.x always is."""
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return 0 if flag is None else 1 << int(flag)


def _parser_errors(parser: Any) -> list[str]:
    lines = []
    for i in range(parser.num_errors):
        err = parser.get_error(i)
        where = ""
        if err.node() >= 0:  # node_name / node_operator arrived in TensorRT 10
            op = err.node_operator() if hasattr(err, "node_operator") else ""
            name = err.node_name() if hasattr(err, "node_name") else ""
            where = f"node {err.node()} ({op or '?'} '{name}'): "
        lines.append(f"  {where}{err.code().name}: {err.desc()}")
    return lines


def _parse_targets(trt: Any, targets: Sequence[str]) -> list[tuple[gpu.CC, Any]]:
    """ "sm_75" / "sm75" / "7.5" -> ((7, 5), trt.ComputeCapability.SM75); a helpful error for a
    target this builder does not know."""
    enum = trt.ComputeCapability
    known = {
        cc: getattr(enum, n) for n in dir(enum) if n.startswith("SM") and (cc := gpu.parse_cc(n))
    }
    out = []
    for t in targets:
        cc = gpu.parse_cc(t)
        if cc is None or cc not in known:
            choices = ", ".join(gpu.cc_name(k) for k in sorted(known))
            raise BuilderError(f"Unknown compute capability {t!r}; this builder knows: {choices}.")
        out.append((cc, known[cc]))
    return out


def _write_atomically(plan_path: Path, data: Any) -> int:
    """Write `data` (a buffer) to plan_path via a temporary file in the same folder + os.replace."""
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{plan_path.name}.", suffix=".partial", dir=plan_path.parent
    )
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; a plan is as readable as any file
            os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(memoryview(data))
            f.flush()
            os.fsync(f.fileno())
        size = os.path.getsize(tmp_name)
        os.replace(tmp_name, plan_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return size


def build_engine(
    onnx_path: Path,
    plan_path: Path,
    builder: str,
    workspace_mb: int | None = None,
    *,
    compute_capabilities: Sequence[str] | None = None,
) -> BuildInfo:
    """Build a strongly typed TensorRT engine from `onnx_path` and write it to `plan_path`.

    `builder` is "tensorrt" or "tensorrt-rtx" (see resolve_builder). `workspace_mb` caps the
    builder's scratch memory. `compute_capabilities` (TensorRT-RTX only, e.g. ["sm_75"]) replaces
    the portable default target set. Raises BuilderError with TensorRT's own messages on failure.
    """
    onnx_path, plan_path = Path(onnx_path), Path(plan_path)
    builder = resolve_builder(builder)
    if builder == ONNX:
        raise BuilderError("The onnx builder builds no engine: run the ONNX file directly.")
    if not onnx_path.is_file():
        raise BuilderError(f"ONNX file not found: {onnx_path}. Run `act-tool export` first.")
    if workspace_mb is not None and workspace_mb <= 0:
        raise BuilderError(f"workspace_mb must be positive, got {workspace_mb}.")
    if compute_capabilities is not None and builder != TENSORRT_RTX:
        raise BuilderError(
            "Compute capability targets apply to TensorRT-RTX only; enterprise TensorRT builds "
            "for the GPU it runs on."
        )

    trt = importlib.import_module(MODULES[builder])
    with _BUILD_LOCK:
        logger = gpu.shared_logger(trt)
        logger.messages.clear()
        return _build_locked(
            trt, builder, logger, onnx_path, plan_path, workspace_mb, compute_capabilities
        )


def _build_locked(
    trt: Any,
    builder: str,
    logger: Any,
    onnx_path: Path,
    plan_path: Path,
    workspace_mb: int | None,
    compute_capabilities: Sequence[str] | None,
) -> BuildInfo:
    start = time.perf_counter()
    try:  # enterprise TensorRT raises here when CUDA cannot start
        trt_builder = trt.Builder(logger)
    except Exception as e:
        raise BuilderError(_failure(f"Could not create a {builder} builder: {e}", logger)) from e
    if trt_builder is None:
        raise BuilderError(_failure(f"Could not create a {builder} builder.", logger))
    network = trt_builder.create_network(_network_flags(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        details = "\n".join(_parser_errors(parser))
        raise BuilderError(
            f"TensorRT ({builder}) could not parse {onnx_path}:\n{details}\n"
            "Check the model with `python -m onnx.checker` or try --builder onnx."
        )

    config = trt_builder.create_builder_config()
    if workspace_mb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    if builder == TENSORRT_RTX:
        target = PORTABLE
        if compute_capabilities:
            ccs = _parse_targets(trt, compute_capabilities)
            config.num_compute_capabilities = len(ccs)
            for i, (cc, enum) in enumerate(ccs):
                if not config.set_compute_capability(enum, i):
                    raise BuilderError(_failure(f"Could not target {gpu.cc_name(cc)}.", logger))
            target = ",".join(gpu.cc_name(cc) for cc, _ in ccs)
    else:
        cc = gpu.compute_capability()
        target = gpu.cc_name(cc) if cc else "unknown"

    try:
        plan = trt_builder.build_serialized_network(network, config)
    except Exception as e:  # the bindings raise on some internal failures
        raise BuilderError(_failure(f"TensorRT ({builder}) failed to build: {e}", logger)) from e
    if plan is None or plan.nbytes == 0:
        raise BuilderError(_failure(f"TensorRT ({builder}) failed to build {onnx_path}.", logger))
    size = _write_atomically(plan_path, plan)
    return BuildInfo(
        builder=builder,
        version=str(trt.__version__),
        target=target,
        build_seconds=time.perf_counter() - start,
        plan_bytes=size,
        warnings=_warnings(logger),
    )


def _failure(headline: str, logger: Any) -> str:
    """A failure message with the builder's own error and warning messages appended."""
    messages = _errors(logger) + list(_warnings(logger))
    log = "\n".join(f"  {m}" for m in messages[-20:]) or "  (TensorRT logged no errors)"
    if any("differs from one already registered" in m for m in messages):
        log += (
            "\n  (TensorRT sent its log to a logger registered earlier in this process: use "
            "act_tool.gpu.shared_logger(trt) for every Builder and Runtime)"
        )
    return f"{headline}\nTensorRT log:\n{log}"
