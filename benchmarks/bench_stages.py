"""Where an artifact's inference time goes, per stage of the network (backbone, image
projection, encoder, decoder, action head, the rest), from ONNX Runtime's own profiler: each
kernel's time attributed to the inference module's submodule its node was traced from (the
exporter's `namespace` metadata, act_tool.export.int8.stage_of), summed per run, median over
runs. Several artifacts of one policy (act.onnx, act.int8.onnx) side by side show which stages
lower precision speeds up and which it does not.

The session is set up as the runner sets it up (all graph optimizations, intra-op threads = the
machine's cores); inputs are random frames and states of the artifact's shapes. A fused kernel
counts for the node it started from (its name says which); a kernel of a node ONNX Runtime
inserted (reshapes around a Gemm, layout reorders, fused layer norms) counts for the stage of
the kernel before it.

    .venv/bin/python benchmarks/bench_stages.py ART/act.onnx ART/act.int8.onnx --runs 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from act_tool.export.int8 import stage_of

STAGES = ("backbone", "image_proj", "encoder", "decoder", "action_head")


def stage_map(path: Path) -> dict[str, str]:
    """Node name -> stage, and output value name -> stage (ONNX Runtime's layout transformer
    names its nodes after the values they compute: `relu_3_nchwc`)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    out: dict[str, str] = {}
    for n in model.graph.node:
        stage = stage_of(n) or "other"
        out[n.name] = stage
        for value in n.output:
            out.setdefault(value, stage)
    return out


def own_stage(name: str, stages: dict[str, str]) -> str | None:
    """The stage a profiled node's name points to: the node itself, the node a fusion started
    from (`node_MatMul_620/MatMulAddFusion`), or the value it computes (`add_6_nchwc`); None for
    nodes ONNX Runtime inserted (reshapes around a Gemm, reorders, fused layer norms)."""
    base = re.sub(r"(_token_\d+)$", "", name.split("/")[0])
    for key in (base, re.sub(r"_nchwc$", "", base)):
        if key in stages:
            return stages[key] if stages[key] in STAGES else "other"
    return None


def profile(path: Path, runs: int, warmup: int = 3) -> tuple[dict[str, float], float]:
    """Median ms per stage over `runs`, and the median of whole runs' kernel time."""
    import onnxruntime as ort

    stages = stage_map(path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = os.cpu_count() or 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    with tempfile.TemporaryDirectory() as tmp:
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        feeds = {}
        for i in session.get_inputs():
            shape = [d if isinstance(d, int) else 1 for d in i.shape]
            if i.type == "tensor(uint8)":
                feeds[i.name] = rng.integers(0, 256, shape, dtype=np.uint8)
            else:
                feeds[i.name] = rng.normal(0, 20, shape).astype(np.float32)
        for _ in range(warmup + runs):
            session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    runs_ms = _runs_from_events(events, stages)[warmup:]
    keys = sorted({k for r in runs_ms for k in r})
    median = {k: float(np.median([r.get(k, 0.0) for r in runs_ms])) for k in keys}
    total = float(np.median([sum(r.values()) for r in runs_ms]))
    return median, total


def _runs_from_events(events: list[dict], stages: dict[str, str]) -> list[dict[str, float]]:
    """Kernel ms per stage for each run (a run's Node events lie inside its model_run span).
    A node ONNX Runtime inserted counts for the stage of the kernel that ran before it (the
    sequential executor runs them in graph order)."""
    spans = [(e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run"]
    out: list[dict[str, float]] = [defaultdict(float) for _ in spans]
    starts = np.array([s for s, _ in spans])
    previous, run = "other", -1
    for e in sorted(events, key=lambda e: e.get("ts", 0)):
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        i = int(np.searchsorted(starts, e["ts"], side="right")) - 1
        if 0 <= i < len(spans) and e["ts"] <= spans[i][1]:
            if i != run:  # a new run: nothing ran before its first kernel
                previous, run = "other", i
            stage = own_stage(e["name"][: -len("_kernel_time")], stages) or previous
            out[i][stage] += e["dur"] / 1e3
            previous = stage
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("artifacts", type=Path, nargs="+")
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    results = {p.name: profile(p, args.runs) for p in args.artifacts}
    columns = [*STAGES, "other"]
    names = list(results)
    print("| stage | " + " | ".join(f"{n} ms (share)" for n in names) + " |")
    print("| --- |" + " --- |" * len(names))
    for stage in columns:
        cells = []
        for n in names:
            ms, total = results[n][0].get(stage, 0.0), results[n][1]
            cells.append(f"{ms:.1f} ({100 * ms / total:.0f} %)" if total else "-")
        if any(results[n][0].get(stage, 0.0) for n in names):
            print(f"| {stage} | " + " | ".join(cells) + " |")
    print("| all kernels | " + " | ".join(f"{results[n][1]:.1f}" for n in names) + " |")


if __name__ == "__main__":
    main()
