"""`act-tool bench` on a full-size ACT (LeRobot defaults, two 480x640 cameras, random weights),
with its figures, plot and a Markdown summary written to benchmarks/results/.

With --int8 the checkpoint is first exported by `act-tool export --int8` (its parity gates
included), calibrated on a small `act-tool dataset sim` recorded at 480x640, so bench measures
act.onnx and act.int8.onnx on ONNX Runtime and OpenVINO beside LeRobot.

    .venv/bin/python benchmarks/bench_all.py --name cpu [--int8]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from act_tool.bench.report import peak_unit
from act_tool.bench.suite import BenchOptions, run_bench
from act_tool.testing.tiny_checkpoint import TinyConfig, save_tiny_checkpoint


def markdown(data: dict, name: str) -> str:
    m = data["machine"]
    gpu = m["gpu"]["name"] if m.get("gpu") else "no GPU"
    lines = [
        f"# act-tool bench, full-size ACT ({name})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {gpu}. "
        f"Libraries: {', '.join(f'{k} {v}' for k, v in m['libraries'].items())}.",
        "",
        "Model: LeRobot 0.6.1 ACT defaults, two 480x640 cameras, chunk 100, random weights; "
        f"{(data['flops_per_inference'] or 0) / 1e9:.1f} GFLOP per inference (counted from the "
        "graph).",
        "",
        f"| backend | precision | p50 ms | p99 ms | ratio to {data['baseline']} | "
        "max error / action std | mean error / action std | GFLOP/s | % of peak | peak RSS MB | "
        "GPU MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    if data.get("baseline_note"):
        lines[-2:-2] = [data["baseline_note"], ""]
    for r in data["inference"]:
        if r["status"] != "ok":
            lines.append(
                f"| {r['name']} | {r['precision']} | {r['status']}: {r['reason']} | | | | | | | | |"
            )
            continue
        pct = "-" if r["fraction_of_peak"] is None else f"{100 * r['fraction_of_peak']:.0f}"
        gflops = "-" if r["achieved_gflops"] is None else f"{r['achieved_gflops']:.0f}"
        gpu_mb = "-" if r["gpu_peak_mb"] is None else f"{r['gpu_peak_mb']:.0f}"
        lines.append(
            f"| {r['name']} | {r['precision']} | {r['latency_ms']['p50']:.1f} | "
            f"{r['latency_ms']['p99']:.1f} | {r['ratio_to_baseline']:.2f} | "
            f"{r['accuracy']['max_rel']:.1e} | {r['accuracy']['mean_rel']:.1e} | {gflops} | "
            f"{pct} | {r['peak_rss_mb']:.0f} | {gpu_mb} |"
        )
    lines += ["", "Measured peaks (large matrix products):", ""]
    for key, value in data["peak_flops"].items():
        shown = f"{value / 1e9:.0f} {peak_unit(key)}" if value else "-"
        lines.append(f"- {key}: {shown} ({data['peak_notes'].get(key, '')})")
    lines += ["", f"FLOPs per inference: {data['flops_note']}.", ""]
    gpu_notes = sorted(
        {f"{r['name']}: {r['gpu_memory_note']}" for r in data["inference"] if r["gpu_memory_note"]}
    )
    if gpu_notes:
        lines += ["GPU memory: " + "; ".join(gpu_notes) + ".", ""]
    tick = data["control_tick"]
    if tick.get("status") == "ok":
        lines += [
            f"Control tick, {tick['runner']} on {tick['arm']} with {tick['cameras']}: "
            f"{tick['ticks']} ticks, {tick['achieved_hz']:.1f} Hz achieved of "
            f"{tick['target_hz']:.0f}, {tick['overruns']} overruns.",
            "",
            "| stage | p50 ms | p99 ms | max ms |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {k} | {v['p50']:.3f} | {v['p99']:.3f} | {v['max']:.3f} |"
            for k, v in tick["stages"].items()
        ]
    return "\n".join(lines) + "\n"


def export_all(ckpt: Path, folder: Path) -> Path:
    """act.onnx and act.int8.onnx of the checkpoint, through the CLI."""
    act = str(Path(sys.executable).parent / "act-tool")
    data, out = folder / "calibration", folder / "artifacts"
    sim = [act, "dataset", "sim", "-o", str(data), "--episodes", "1", "--height", "480"]
    subprocess.run([*sim, "--width", "640"], check=True)
    export = [act, "export", str(ckpt), "--int8", "--dataset", str(data)]
    subprocess.run([*export, "-o", str(out), "--builder", "onnx"], check=True)
    return out / "act.onnx"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="cpu", help="results file stem: bench_<name>.*")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--int8", action="store_true", help="export FP16 and INT8 artifacts first")
    ap.add_argument("--keep", type=Path, help="--int8: export into this folder and keep it")
    args = ap.parse_args()
    if args.keep is not None and (not args.int8 or args.keep.exists()):
        ap.error("--keep DIR goes with --int8 and must not exist yet")
    with tempfile.TemporaryDirectory(prefix="act-bench-full-") as tmp:
        cfg = TinyConfig(full_size=True, height=480, width=640, chunk_size=100, n_action_steps=100)
        ckpt = save_tiny_checkpoint(Path(tmp) / "pretrained_model", cfg)
        onnx = export_all(ckpt, args.keep or Path(tmp)) if args.int8 else None
        stem = args.out / f"bench_{args.name}"
        result = run_bench(
            BenchOptions(
                checkpoint=ckpt,
                onnx=onnx,
                repeats=args.repeats,
                tick_seconds=args.seconds,
                json_path=stem.with_suffix(".json"),
                plot_path=stem.with_suffix(".png"),
            ),
        )
    print(result.text)
    stem.with_suffix(".md").write_text(markdown(result.data, args.name))


if __name__ == "__main__":
    main()
