"""The bench report: a terminal table, the raw JSON, and a plot readable at a glance."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from act_tool.bench.inference import BackendResult


def fmt(x: float | None, spec: str = ".1f", none: str = "-") -> str:
    return none if x is None else format(x, spec)


def baseline_note(results: list[BackendResult], baseline: str) -> str:
    """A plain sentence when the ratios are not relative to LeRobot eager; "" when they are."""
    if baseline == "lerobot eager":
        return ""
    eager = next((r for r in results if r.name == "lerobot eager"), None)
    why = f" ({eager.status}: {eager.reason})" if eager is not None and eager.reason else ""
    if baseline == "none":
        return f"LeRobot eager was not measured{why}, and no backend ran: no ratios."
    return (
        f"LeRobot eager was not measured{why}: ratios and action errors below are relative to "
        f"{baseline}, not to LeRobot."
    )


def inference_table(results: list[BackendResult], baseline: str) -> str:
    head = (
        f"{'backend':<32}{'prec':>5}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'ratio':>7}{'max err/std':>12}{'mean err/std':>13}{'GFLOP/s':>9}{'% peak':>8}"
        f"{'RSS MB':>8}{'GPU MB':>8}"
    )
    lines = [
        f"Inference per action chunk (ratio: p50 / {baseline} p50, same run; errors against "
        f"{baseline}'s actions, per joint, relative to the action std)",
        head,
    ]
    for r in results:
        if r.status != "ok":
            lines.append(f"{r.name:<32}{r.precision:>5}  {r.status}: {r.reason}")
            continue
        lat = r.latency_ms
        pct = None if r.fraction_of_peak is None else 100 * r.fraction_of_peak
        lines.append(
            f"{r.name:<32}{r.precision:>5}{lat['p50']:>9.2f}{lat['p90']:>9.2f}{lat['p99']:>9.2f}"
            f"{lat['max']:>9.2f}{fmt(r.ratio_to_baseline, '.2f'):>7}"
            f"{fmt(r.accuracy.get('max_rel'), '.1e'):>12}"
            f"{fmt(r.accuracy.get('mean_rel'), '.1e'):>13}{fmt(r.achieved_gflops):>9}"
            f"{fmt(pct):>8}{fmt(r.peak_rss_mb, '.0f'):>8}{fmt(r.gpu_peak_mb, '.0f'):>8}"
        )
    return "\n".join(lines)


def peak_unit(key: str) -> str:
    """A peak's unit: integer multiply-adds (2 ops each) for INT8, FLOPs otherwise."""
    return "GOP/s" if "int8" in key else "GFLOP/s"


def peaks_text(
    peaks: dict[str, float | None], notes: dict[str, str], flops: int | None, flops_note: str
) -> str:
    lines = ["measured peak:"]
    for key, value in peaks.items():
        shown = f"{value / 1e9:.0f} {peak_unit(key)}" if value else "-"
        lines.append(f"  {key:<10}{shown:>14}  {notes.get(key, '')}")
    lines.append(
        f"FLOPs per inference: {fmt(flops and flops / 1e9, '.2f')} G ({flops_note})"
        if flops
        else f"FLOPs per inference: - ({flops_note}); GFLOP/s and % peak not shown"
    )
    return "\n".join(lines)


def notes(results: list[BackendResult]) -> list[str]:
    """The skipped backends with their reasons, and how GPU memory was measured."""
    lines = []
    skipped = [f"{r.name} ({r.reason})" for r in results if r.status == "skipped"]
    if skipped:
        lines.append("skipped: " + "; ".join(skipped))
    gpu = {
        f"{r.name}: {r.gpu_memory_note}" for r in results if r.status == "ok" and r.device == "cuda"
    }
    if gpu:
        lines.append("GPU MB: " + "; ".join(sorted(gpu)))
    return lines


def stages_table(stages: dict[str, Any]) -> str:
    if stages.get("status") != "ok":
        return f"Control tick: {stages.get('status', 'skipped')}: {stages.get('reason', '')}"
    lines = [
        f"Control tick on {stages['arm']} with {stages['cameras']} cameras, runner "
        f"{stages['runner']}: {stages['ticks']} ticks at {stages['target_hz']:.0f} Hz target, "
        f"{stages['achieved_hz']:.1f} Hz achieved, {stages['overruns']} overruns",
        f"{'stage':<16}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}",
    ]
    for name, s in stages["stages"].items():
        lines.append(f"{name:<16}{s['p50']:>9.3f}{s['p99']:>9.3f}{s['max']:>9.3f}")
    return "\n".join(lines)


def to_json(
    machine: dict,
    flops: int | None,
    peaks: dict,
    results: list[BackendResult],
    stages: dict,
    baseline: str,
    extra: dict | None = None,
) -> str:
    return (
        json.dumps(
            {
                "machine": machine,
                "flops_per_inference": flops,
                "peak_flops": peaks,
                "baseline": baseline,
                **(extra or {}),
                "inference": [asdict(r) for r in results],
                "control_tick": stages,
            },
            indent=2,
        )
        + "\n"
    )


def plot(results: list[BackendResult], stages: dict, path: Path, title: str) -> None:
    """Left: latency distribution per backend. Right: the control tick's stages, stacked (p50)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if r.status == "ok"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [2.2, 1]})
    if ok:
        ax1.boxplot(
            [r.samples_ms for r in ok], orientation="horizontal", showfliers=True, whis=(1, 99)
        )
        ax1.set_yticks(range(1, len(ok) + 1), [f"{r.name} ({r.precision})" for r in ok])
        for i, r in enumerate(ok, start=1):
            label = f"p50 {r.latency_ms['p50']:.1f} ms"
            if r.ratio_to_baseline is not None:
                label += f"  x{r.ratio_to_baseline:.2f}"
            ax1.annotate(
                label,
                (r.latency_ms["max"], i),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        ax1.invert_yaxis()
        ax1.set_xscale("log")
    ax1.set_xlabel("latency per action chunk (ms, log scale; whiskers p1-p99)")
    ax1.set_title("Inference, per backend")
    if stages.get("status") == "ok":
        work = {k: v for k, v in stages["stages"].items() if k != "slack"}
        bottoms = [0.0, 0.0]
        for name, s in work.items():
            values = [s["p50"], s["p99"]]
            ax2.bar(
                ["p50", "p99"],
                values,
                bottom=bottoms,
                label=f"{name} {s['p50']:.2f} / {s['p99']:.2f} ms",
            )
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        period = 1e3 / stages["target_hz"]
        if max(bottoms) > period / 3:
            ax2.axhline(period, color="k", ls="--", lw=1, label=f"period {period:.1f} ms")
        slack = stages["stages"].get("slack", {})
        infer = stages["stages"].get("inference", {})
        ax2.text(
            0.02,
            0.90,
            f"period {period:.1f} ms, slack p50 {slack.get('p50', 0):.1f} ms\n"
            f"{stages['achieved_hz']:.1f} Hz achieved, {stages['overruns']} overruns\n"
            f"inference (only on query ticks): max {infer.get('max', 0):.1f} ms",
            transform=ax2.transAxes,
            va="top",
            fontsize=8,
        )
        ax2.set_ylabel("ms per tick (work stages, stacked)")
        ax2.legend(fontsize=7, loc="center right")
    else:
        ax2.set_title("Control tick stages")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
