"""What recording (--record) and the live view (--display-save) cost the control thread, and
whether the dataset writer keeps up.

The loop of bench_loop.py (virtual SO-101, 1 Mbps wire time, two 480x640 synthetic cameras at
30 Hz, a runner that does no work, chunks of 100) runs once per case: no observers, the
recorder (LeRobot dataset, videos encoded while the episode runs, once per video codec), the
display (rerun, into an .rrd file), both. Per case: the control thread's CPU time per tick (the `cpu` column: the loop's
stages except inference, and the observers' on_tick), p50 / p99 / max; ticks that overran; and
for the recorder the frames kept and not kept, and how long saving the episode took after the
loop ended (the writer's backlog); and the query ticks whose frames the loop rewrote before the
observers' threads copied them (recorded or shown with each camera's newest frame instead).

    .venv/bin/python benchmarks/bench_record.py --seconds 60 --out benchmarks/results/record_cpu.md
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from act_tool.eval.display import RerunDisplay
from act_tool.eval.recording import DatasetRecorder
from act_tool.runtime.loop import LoopConfig
from act_tool.runtime.telemetry import COL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too
from benchmarks.bench_loop import bench_spec, idle_runner, machine, pct, run_case  # noqa: E402


def case(name: str, seconds: float, folder: Path, record: str | None, display: bool) -> dict:
    """One case; `record`: the recorder's video codec, None: no recorder."""
    spec = bench_spec()
    said: list[str] = []
    recorder = (
        DatasetRecorder(folder / f"{name}_ds", "bench", log=said.append, codec=record)
        if record
        else None
    )
    viewer = RerunDisplay(folder / f"{name}.rrd", log=said.append) if display else None
    observers = tuple(o for o in (recorder, viewer) if o is not None)
    config = LoopConfig(duration_s=seconds, warmup=1, n_action_steps=100)
    captured = run_case(
        idle_runner(spec, 0.0), config, wire_time=True, keep_going=True, observers=observers
    )
    save_s = 0.0
    if recorder is not None:
        t = time.perf_counter()
        recorder.save_episode()
        save_s = time.perf_counter() - t
        recorder.close()
    if viewer is not None:
        viewer.close()
    rows = captured.rows
    return {
        "case": name,
        "ticks": len(rows),
        "cpu": rows[:, COL["cpu"]] * 1e3,
        "overruns": int(rows[:, COL["overrun"]].sum()),
        "kept": recorder.saved[0] if recorder is not None and recorder.saved else None,
        "not_kept": recorder.dropped if recorder is not None else None,
        "save_s": save_s,
        "display_dropped": viewer.dropped if viewer is not None else None,
        # query ticks whose frames were rewritten before the observer's thread copied them
        "substituted": sum(
            n for n in (recorder and recorder.substituted, viewer and viewer.images_overtaken) if n
        ),
        "error": captured.error,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--codecs", default="h264,av1", help="the recorder's codecs to measure")
    args = parser.parse_args()
    codecs = args.codecs.split(",")
    cases = [
        ("none", None, False),
        *[(f"record {c}", c, False) for c in codecs],
        ("display", None, True),
        *[(f"record {c}+display", c, True) for c in codecs],
    ]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, record, display in cases:
            results.append(case(name, args.seconds, Path(tmp), record, display))
            print(f"{name}: done", flush=True)
    base = np.percentile(results[0]["cpu"], 99)
    lines = [
        f"# Recording and live view: control-thread cost ({args.seconds:g} s per case)",
        "",
        f"Machine: {machine()}. `benchmarks/bench_record.py --seconds {args.seconds:g} --codecs "
        f"{args.codecs}`; two "
        "480x640 synthetic cameras, 30 Hz, virtual SO-101 with 1 Mbps wire time, no model.",
        "",
        "| case | ticks | cpu ms/tick p50 / p99 / max | p99 over none (ms) | overruns | "
        "frames kept / not kept | save after loop (s) | display dropped | policy frames "
        "substituted |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        extra = np.percentile(r["cpu"], 99) - base
        kept = "-" if r["kept"] is None else f"{r['kept']} / {r['not_kept']}"
        dropped = "-" if r["display_dropped"] is None else str(r["display_dropped"])
        lines.append(
            f"| {r['case']} | {r['ticks']} | {pct(r['cpu'])} | {extra:+.3f} | {r['overruns']} | "
            f"{kept} | {r['save_s']:.1f} | {dropped} | {r['substituted']} |"
        )
    for r in results:
        if r["error"]:
            lines.append(f"\n{r['case']}: the loop stopped early: {r['error']}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
