"""`act-tool export`: checkpoint -> act.onnx -> act.fp16.onnx -> act.plan (and act.int8.onnx for
CPUs), each checked and with its spec JSON. Everything is written into a staging folder first and
renamed into place only after every check passed: a failed export leaves no artifact behind."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.errors import ActToolError, ParityError
from act_tool.export.flops import count_flops
from act_tool.export.int8 import MIN_CALIBRATION
from act_tool.export.lerobot_files import write_lerobot_files
from act_tool.export.robot_type import find_robot_type
from act_tool.runtime.check_file import check_path
from act_tool.spec import EngineSpec, spec_path

# Parity bounds, in units of the action std. Rounding error is, to first order, the unit
# roundoff u (2^-24 in float32, 2^-11 in float16) times a gain G of the model and its inputs;
# against a float64 evaluation of the inference module G is about 10-15 (tiny test model,
# tests/policy/test_inference_module.py; the full-size export in benchmarks/results agrees:
# FP32 parity 1.3e-6 = 2 x 11 u).
# FP32: two float32 evaluations (ONNX Runtime, LeRobot) differ by up to 2 G u: 1e-4 = 2 x 840 u
# allows gains ~60x the measured ones, while one constant off by 0.1 % already fails.
FP32_BOUND = 1e-4
# FP16: up to G u16 were every op rounded to FP16; LayerNorm, Softmax, the I/O math and the
# products' accumulation stay FP32, so measured errors are ~1.1e-3 of the std (2.2 u16).
# 2e-2 = 41 u16 covers gains ~4x the measured ones even for an all-FP16 graph (~20x the measured
# errors), while a broken conversion (errors of order one std) fails.
FP16_BOUND = 2e-2
# INT8 (export/int8.py; measurements in benchmarks/results/int8_layers.md): a tensor calibrated
# to a range R rounds to steps of R/255 (activations, uint8, per tensor) or 2 max|w|/127 (weights,
# 7 bits), an error uniform in +-step/2 of rms step/sqrt(12). Relative to the tensor's rms that is
# e_a = c / (255 sqrt(12)), c = R / rms its crest factor (median 7.3 over the tiny model's
# quantized activations: e_a = 8e-3), and e_w = 2e-2 for its weights (median). Each product
# passes its operands' relative errors on in power sum, and the m = 33 quantized products of the
# path add theirs the same way: sqrt(m (e_a^2 + e_w^2)) = 0.13 of the features. The actions move
# by that fraction of their input-driven variation (0.077 std on the tiny model): rms 0.010
# predicted, 0.011 measured on dataset frames; the worst of N x chunk x A values is 4-6 rms
# (0.060), and noise frames, whose activations exceed the calibrated ranges and clip, reach 0.098.
# A calibration that saw no image structure (constant frames) clips every real activation range:
# 0.56. LeRobot's full-size architecture (random weights, 96x128 cameras, m = 45, chunk 100):
# 0.148 / 0.079 calibrated, 0.282 on constant frames. 0.2 passes both good calibrations (by 2x
# and 1.35x) and fails both broken ones (by 2.8x and 1.4x); 0.3 would pass the broken full-size
# one. Not measured on a trained policy (none was at hand): a policy whose actions vary more with
# the input scales the error with that variation; its figure goes in int8_layers.md.
INT8_BOUND = 0.2


INT8_NEEDS_DATASET = (
    "--int8 needs --dataset DIR: INT8 scales are calibrated on real frames (random frames "
    "calibrate nothing: their activations look like no camera's). Any local LeRobot dataset of "
    "this robot will do, e.g. one written by `act-tool dataset sim`."
)


@dataclass(frozen=True)
class ExportOptions:
    checkpoint: Path
    output: Path = Path(".")
    fp16: bool = False
    int8: bool = False  # also act.int8.onnx, calibrated on `dataset` frames (export/int8.py)
    builder: str | None = None  # None: whichever TensorRT is installed; "onnx": stop after ONNX
    dataset: Path | None = None
    n_random: int = 16
    n_dataset: int = 16
    n_calibration: int = 32  # INT8: dataset frames calibrated on, none of the n_dataset checked
    units: str = "degrees"
    channel_order: str = "bgr"
    fps: int | None = None
    opset: int = 18
    seed: int = 0
    robot_type: str | None = None  # None: the dataset's (act_tool.export.robot_type)

    def __post_init__(self) -> None:
        if self.n_random < 16:
            raise ActToolError("parity needs at least 16 random observations (--observations 16)")
        if self.opset < 17:
            raise ActToolError("opset must be >= 17 so LayerNormalization stays one op")
        if self.int8 and self.dataset is None:
            raise ActToolError(INT8_NEEDS_DATASET)
        if self.int8 and self.n_calibration < MIN_CALIBRATION:
            raise ActToolError(
                f"INT8 calibration needs at least {MIN_CALIBRATION} frames "
                f"(--calibration-frames {MIN_CALIBRATION})"
            )


@dataclass
class ExportResult:
    artifacts: list[Path] = field(default_factory=list)
    reports: dict[str, dict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def export_onnx(module, inputs, path: Path, opset: int) -> None:
    """Trace the inference module to ONNX (static shapes, batch 1) and check the file."""
    import contextlib
    import io
    import logging
    import warnings

    import onnx
    import torch

    logging.getLogger("onnxscript").setLevel(logging.ERROR)
    with (
        torch.no_grad(),
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", FutureWarning)  # torch.export's own deprecations
        torch.onnx.export(
            module,
            inputs,
            str(path),
            input_names=module.input_names(),
            output_names=["action"],
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    onnx.checker.check_model(str(path))


def check_parity(path, spec, observations, references, scale, bound, label, log) -> dict:
    """Run `path` in ONNX Runtime on every observation set; raise ParityError on a miss."""
    from act_tool.export.parity import compare, onnx_chunks

    figures = {}
    for source, obs in observations.items():
        got = onnx_chunks(path, spec, obs)
        report = compare(references[source], got, scale, spec.action_names, bound, source)
        log(report.table(f"{label} vs LeRobot"))
        if not report.passed:
            raise ParityError(
                f"{label} export differs from LeRobot beyond {bound:.0e} of the action std; "
                "no artifact written.",
                report.table(label),
            )
        figures[source] = report.to_dict()
    return figures


@dataclass(frozen=True)
class _Parity:
    """What every parity check of one export compares against: LeRobot's chunks per source."""

    spec: EngineSpec
    observations: dict  # source -> list of parity.Observation
    references: dict  # source -> LeRobot's chunks [N, chunk, A]
    scale: np.ndarray  # the action std errors are measured against
    log: Callable[[str], None]

    def check(self, path: Path, bound: float, label: str) -> dict:
        return check_parity(
            path, self.spec, self.observations, self.references, self.scale, bound, label, self.log
        )


def run_export(opts: ExportOptions, log: Callable[[str], None] = print) -> ExportResult:
    from act_tool.export import engine
    from act_tool.policy.inference_module import ACTInference, example_inputs

    result = ExportResult()
    builder = engine.resolve_builder(opts.builder)  # fail early, before any slow work
    out_dir = Path(opts.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ckpt, parity, calibration = _load(opts, log)
    result.seconds["load"] = time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix=".act-export-", dir=out_dir) as tmp:
        staging = Path(tmp)
        t0 = time.perf_counter()
        module = ACTInference(ckpt, opts.channel_order).eval()
        onnx32 = staging / "act.onnx"
        export_onnx(module, example_inputs(module, ckpt, opts.seed), onnx32, opts.opset)
        flops = count_flops(onnx32)[0]
        result.seconds["onnx"] = time.perf_counter() - t0
        log(
            f"exported {onnx32.name} ({onnx32.stat().st_size / 1e6:.1f} MB, "
            f"{flops / 1e9:.2f} GFLOP per inference) in {result.seconds['onnx']:.1f} s"
        )
        parity = replace(parity, spec=replace(parity.spec, flops=flops))
        parity32 = parity.check(onnx32, FP32_BOUND, "FP32 ONNX")
        result.reports["fp32"] = parity32
        specs = {onnx32: parity.spec.with_artifact(onnx32, parity={"fp32_onnx": parity32})}
        network = onnx32
        if opts.fp16:
            network = staging / "act.fp16.onnx"
            specs[network] = _fp16(onnx32, network, parity, result)
        if calibration is not None:
            onnx8 = staging / "act.int8.onnx"
            specs[onnx8] = _int8(onnx32, onnx8, parity, calibration, result)
        if builder != "onnx":
            if opts.int8:
                log(
                    f"note: the TensorRT engine is built from {network.name}, not from the INT8 "
                    "model: act.int8.onnx is for CPU runtimes (ONNX Runtime, OpenVINO)"
                )
            plan = staging / "act.plan"
            specs[plan] = _engine(network, specs[network], plan, builder, result, log)
        specs = _write_checks(specs, parity, network)
        _move_into_place(specs, out_dir, result)
    # LeRobot's config and processor files: `lerobot-rollout --policy.path=OUT` (policy plugin)
    if not write_lerobot_files(out_dir, specs[onnx32]):
        log(
            f"note: {out_dir} holds another policy's config.json (a checkpoint folder?): LeRobot's "
            "files for lerobot-rollout were not written; export into a folder of its own for that"
        )
    return result


def _load(opts: ExportOptions, log: Callable[[str], None]) -> tuple[Any, _Parity, Any]:
    """The checkpoint, LeRobot's chunks on the parity observations (random, dataset), and with
    --int8 the calibration observations (read first: a dataset too small fails at once)."""
    from act_tool.export.parity import dataset_observations, lerobot_chunks, random_observations
    from act_tool.policy.checkpoint import load_checkpoint
    from act_tool.policy.describe import action_scale, spec_from_checkpoint

    ckpt = load_checkpoint(opts.checkpoint)
    for note in ckpt.notes:
        log(f"note: {note}")
    log(f"loaded {ckpt.layout} checkpoint {ckpt.path}")
    spec = replace(
        spec_from_checkpoint(
            ckpt,
            units=opts.units,
            channel_order=opts.channel_order,
            fps=opts.fps,
            dataset=opts.dataset,
        ),
        robot_type=find_robot_type(ckpt.path, opts.dataset, opts.robot_type, log),
    )
    calibration = _calibration(ckpt, opts, log) if opts.int8 else None
    observations = {"random": random_observations(ckpt, opts.n_random, opts.seed)}
    if opts.dataset is not None:
        observations[str(opts.dataset)] = dataset_observations(ckpt, opts.dataset, opts.n_dataset)
    references = {src: lerobot_chunks(ckpt, obs) for src, obs in observations.items()}
    return ckpt, _Parity(spec, observations, references, action_scale(ckpt), log), calibration


def _fp16(onnx32: Path, onnx16: Path, parity: _Parity, result: ExportResult) -> EngineSpec:
    """Convert to FP16 (ops whose measured values would overflow stay FP32), check parity, and
    return the FP16 model's spec."""
    from act_tool.export.activation_ranges import activation_ranges
    from act_tool.export.fp16 import DATA_MAX, convert_to_fp16
    from act_tool.export.parity import artifact_inputs

    t0 = time.perf_counter()
    obs = [o for group in parity.observations.values() for o in group]
    ranges = activation_ranges(onnx32, [artifact_inputs(o, parity.spec) for o in obs])
    counts = convert_to_fp16(onnx32, onnx16, ranges)
    result.seconds["fp16"] = time.perf_counter() - t0
    parity.log(
        f"converted to FP16: {counts['fp16_nodes']} ops in FP16, {counts['fp32_nodes']} "
        f"kept in FP32 ({counts['fp32_by_range']} of them for values over "
        f"{DATA_MAX:g} measured on the parity observations), {counts['casts']} casts"
    )
    parity16 = parity.check(onnx16, FP16_BOUND, "FP16 ONNX")
    result.reports["fp16"] = parity16
    figures = {"fp32_onnx": result.reports["fp32"], "fp16_onnx": parity16}
    return parity.spec.with_artifact(
        onnx16, precision="fp16", parity={**figures, "fp16_conversion": counts}
    )


def _calibration(ckpt, opts: ExportOptions, log: Callable[[str], None]) -> tuple[list, dict]:
    """The INT8 calibration observations (dataset frames the parity gate does not check)."""
    from act_tool.export.int8 import calibration_observations

    obs, info = calibration_observations(ckpt, opts.dataset, opts.n_dataset, opts.n_calibration)
    log(
        f"INT8 calibration: {info['frames']} frames of {info['episodes']} episodes of "
        f"{opts.dataset} (none of them checked by the parity gate)"
    )
    return obs, info


def _int8(
    onnx32: Path, onnx8: Path, parity: _Parity, calibration: tuple[list, dict], result: ExportResult
) -> EngineSpec:
    """Quantize to INT8 (QDQ) on the calibration frames, check parity, return its spec."""
    from act_tool.export.int8 import quantize_int8
    from act_tool.export.parity import artifact_inputs

    t0 = time.perf_counter()
    obs, info = calibration
    counts = quantize_int8(onnx32, onnx8, [artifact_inputs(o, parity.spec) for o in obs])
    result.seconds["int8"] = time.perf_counter() - t0
    parity.log(
        f"quantized to INT8: {counts['int8_nodes']} convolutions and matrix products in INT8, "
        f"{counts['fp32_heavy_nodes']} kept in FP32 (attention products, state projection, "
        "decoder, action head), "
        f"{counts['quantize_linear']} QuantizeLinear"
    )
    parity8 = parity.check(onnx8, INT8_BOUND, "INT8 ONNX")
    result.reports["int8"] = parity8
    figures = {"fp32_onnx": result.reports["fp32"], "int8_onnx": parity8}
    return parity.spec.with_artifact(
        onnx8,
        precision="int8",
        parity={**figures, "int8_quantization": counts},
        calibration=info,
    )


def _engine(
    network: Path,
    network_spec: EngineSpec,
    plan: Path,
    builder: str,
    result: ExportResult,
    log: Callable[[str], None],
) -> EngineSpec:
    """Build the TensorRT engine from the network's ONNX; the plan's spec carries its figures."""
    from act_tool.export import engine
    from act_tool.export.engine_from_onnx import plan_spec

    t0 = time.perf_counter()
    log(f"building TensorRT engine with {builder} from {network.name} ...")
    info = engine.build_engine(network, plan, builder)
    result.seconds["engine"] = time.perf_counter() - t0
    log(
        f"built {plan.name} ({info.plan_bytes / 1e6:.1f} MB, {builder} {info.version}, "
        f"target {info.target}) in {info.build_seconds:.1f} s"
    )
    return plan_spec(network_spec, plan, network.name, info)


def _write_checks(
    specs: dict[Path, EngineSpec], parity: _Parity, network: Path
) -> dict[Path, EngineSpec]:
    """Each staged artifact's self-check file (act_tool.export.check_files), staged beside it;
    returns the specs naming them. The plan gets the check of the ONNX it was built from."""
    from act_tool.export.check_files import make_check, pick, plan_check, write_check

    obs, refs, sources = pick(parity.observations, parity.references)
    checks = {}
    for artifact, spec in specs.items():
        if artifact.suffix != ".plan":
            bound = {"fp16": FP16_BOUND, "int8": INT8_BOUND}.get(spec.precision, FP32_BOUND)
            # On a GPU FP32 products may run in TF32, which rounds as FP16 does; INT8's FP32
            # islands add that to its own bound.
            gpu_bound = INT8_BOUND + FP16_BOUND if spec.precision == "int8" else FP16_BOUND
            checks[artifact] = make_check(
                artifact, spec, obs, refs, sources, parity.scale, bound, gpu_bound
            )
    for artifact in specs:
        if artifact.suffix == ".plan":
            checks[artifact] = plan_check(checks[network], network, artifact)
    return {a: write_check(checks[a], a, spec) for a, spec in specs.items()}


def _move_into_place(specs: dict[Path, EngineSpec], out_dir: Path, result: ExportResult) -> None:
    """Write each staged artifact's spec, then move artifacts, check files and specs into
    `out_dir`. Called only once every check passed."""
    for artifact, spec in specs.items():
        spec.write(spec_path(artifact))
    for artifact in specs:
        for src in (artifact, check_path(artifact), spec_path(artifact)):
            dst = out_dir / src.name
            shutil.move(str(src), str(dst))
            if src == artifact:
                result.artifacts.append(dst)
