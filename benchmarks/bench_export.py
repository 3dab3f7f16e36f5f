"""Full-size export benchmark: export time, ONNX size, parameter counts, and ONNX Runtime CPU
latency against LeRobot eager (`predict_action_chunk` with its processors) in one run.

The checkpoint has LeRobot's default ACT sizes and two 480x640 cameras with random weights (no
network for pretrained ones; latency does not depend on the values). LeRobot and ONNX Runtime run
interleaved on the same observations so that load on the machine hits both alike.

    .venv/bin/python benchmarks/bench_export.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime
    import torch

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": "none",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def percentiles(xs: list[float]) -> dict:
    a = np.array(xs) * 1e3
    return {
        "p50_ms": float(np.percentile(a, 50)),
        "p90_ms": float(np.percentile(a, 90)),
        "max_ms": float(a.max()),
        "n": len(xs),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    import onnxruntime as ort
    import torch

    from act_tool.export.parity import artifact_inputs, lerobot_chunks, random_observations
    from act_tool.export.pipeline import ExportOptions, run_export
    from act_tool.policy.checkpoint import load_checkpoint
    from act_tool.spec import EngineSpec
    from act_tool.testing.tiny_checkpoint import TinyConfig, save_tiny_checkpoint

    work = Path(tempfile.mkdtemp(prefix="act-bench-"))
    cfg = TinyConfig(full_size=True, height=480, width=640, chunk_size=100, n_action_steps=100)
    ckpt_dir = save_tiny_checkpoint(work / "pretrained_model", cfg)
    t0 = time.perf_counter()
    result = run_export(ExportOptions(ckpt_dir, work / "out", fp16=True, builder="onnx"), log=print)
    export_s = time.perf_counter() - t0
    onnx_path = work / "out" / "act.onnx"
    spec = EngineSpec.read(work / "out" / "act.onnx.json")

    ckpt = load_checkpoint(ckpt_dir)
    model = ckpt.policy.model
    n_total = sum(p.numel() for p in model.parameters())
    n_vae = sum(p.numel() for n, p in model.named_parameters() if n.startswith("vae_encoder"))

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    observations = random_observations(ckpt, 4, seed=5)
    feeds = [artifact_inputs(o, spec) for o in observations]
    for i in range(3):  # warm-up both
        lerobot_chunks(ckpt, [observations[i % 4]])
        session.run(["action"], feeds[i % 4])
    eager, onnxrt = [], []
    for i in range(args.repeats):
        obs = observations[i % 4]
        t = time.perf_counter()
        lerobot_chunks(ckpt, [obs])
        eager.append(time.perf_counter() - t)
        t = time.perf_counter()
        session.run(["action"], feeds[i % 4])
        onnxrt.append(time.perf_counter() - t)

    figures = {
        "machine": machine(),
        "model": {
            "cameras": "2 x 480x640",
            "chunk_size": 100,
            "params_total": n_total,
            "params_vae_encoder": n_vae,
            "params_inference_path": n_total - n_vae,
        },
        "export": {
            "total_s_incl_parity_and_fp16": export_s,
            "stages_s": result.seconds,
            "onnx_mb": onnx_path.stat().st_size / 1e6,
            "fp16_onnx_mb": (work / "out" / "act.fp16.onnx").stat().st_size / 1e6,
            "fp32_worst_rel": result.reports["fp32"]["random"]["worst_rel"],
            "fp16_worst_rel": result.reports["fp16"]["random"]["worst_rel"],
        },
        "latency": {
            "lerobot_eager": percentiles(eager),
            "onnxruntime_cpu": percentiles(onnxrt),
            "ratio_p50": float(np.median(onnxrt) / np.median(eager)),
        },
        "torch_threads": torch.get_num_threads(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "export_cpu.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
