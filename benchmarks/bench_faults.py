"""Runs on a faulty servo bus: the control loop on the virtual SO-101 with seeded faults.

1. Ride-through: the loop (a policy that does no work, two synthetic cameras, chunk mode) at
   30 Hz on a bus that loses 1 % of the servos' replies and corrupts 0.5 %, with a 30 ms bus
   stall every 10 s (one servo's answer held 30 ms; the answers after it wait behind it, as on a
   real half-duplex bus). Reported: whether the run stopped, the rate held, overruns, held ticks,
   the state stage's latency, and every fault the emulator injected beside what the bus counted.
   A run that stops is counted and started again until the time is spent.
2. Stop on a silent servo: servo 6 goes silent (unplugged) a few seconds in; the time from that
   moment (the emulator's clock, the same monotonic clock as ours) to the loop's torque-off
   broadcast, which reaches the other five at once. Repeated a few times.

The arm is set up as `act-tool run --port emulated` sets it up (the tick's state budget, the
emulated arm's timeout margin, the default --max-missed-state).

    .venv/bin/python benchmarks/bench_faults.py                  # 10 minutes of ride-through
    .venv/bin/python benchmarks/bench_faults.py --seconds 150 --out benchmarks/results/faults.md
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from act_tool.hw.cameras import CameraConfig, CameraSet, parse_camera_args
from act_tool.hw.emulator import (
    DEFAULT_CALIBRATION,
    BusFaults,
    EmulatorConfig,
    Fault,
    FaultStart,
    VirtualArm,
    write_calibration_file,
)
from act_tool.hw.feetech.reply_faults import KINDS
from act_tool.hw.so101 import ArmConfig, SO101Arm
from act_tool.runtime.arm_guard import torque_guard
from act_tool.runtime.loop import LoopConfig, LoopError, run_loop
from act_tool.runtime.so101_arms import EMULATED_MARGIN_S, middle_of_training_range
from act_tool.runtime.telemetry import COL, Telemetry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too
from benchmarks.bench_loop import bench_spec, idle_runner, machine  # noqa: E402

FPS = 30.0
STALL_S = 0.030
STALL_EVERY_S = 10.0


class TimedArm(SO101Arm):
    """The SO-101 arm, noting when torque off began (its broadcast is the first thing sent)."""

    torque_off_at: float | None = None

    def disable_torque(self) -> list[str]:
        if self.torque_off_at is None:
            self.torque_off_at = time.perf_counter()
        return super().disable_torque()


def one_run(faults: BusFaults, seconds: float, stalls: bool) -> dict:
    """One loop run on the faulty virtual arm; what it measured."""
    spec = bench_spec(96, 128, chunk=100)
    runner = idle_runner(spec, 0.0)
    config = LoopConfig(fps=FPS, n_action_steps=100, duration_s=seconds, ring_capacity=1 << 16)
    config = config.resolve(spec)
    telemetry = Telemetry(config.ring_capacity)
    out: dict = {"stalls": 0, "error": ""}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        stack.enter_context(runner)
        start = middle_of_training_range(spec, DEFAULT_CALIBRATION)
        virtual = stack.enter_context(
            VirtualArm(EmulatorConfig(wire_time=True, start_positions=start, faults=faults))
        )
        cal = write_calibration_file("bench", root=tmp)
        arm = TimedArm(
            ArmConfig(
                port=virtual.port,
                calibration_path=cal,
                timeout_margin_s=EMULATED_MARGIN_S,
                state_budget_s=config.state_budget_s(),
                persistent_error_reads=config.max_missed_state.ticks_at(FPS),
            )
        )
        cams = CameraSet(
            parse_camera_args("front=synthetic,handeye=synthetic"),
            CameraConfig(width=128, height=96, fps=30),
        )
        stack.enter_context(cams)
        stack.enter_context(torque_guard(arm))
        done = threading.Event()

        def stall_now_and_then() -> None:
            while not done.wait(STALL_EVERY_S):
                virtual.inject(3, Fault(delay_s=STALL_S, count=1))
                out["stalls"] += 1

        stall_thread = threading.Thread(target=stall_now_and_then, daemon=True)
        if stalls:
            stall_thread.start()
        lines: list[str] = []
        try:
            summary = run_loop(runner, arm, cams, config, lines.append, telemetry)
        except LoopError as e:
            summary, out["error"] = e.summary, str(e)
        finally:
            done.set()
        out["injected"] = virtual.injected()
        out["counted"] = arm.bus.faults.by_servo() if arm.bus is not None else {}
        out["report"] = arm.report()
        out["torque_off_at"] = arm.torque_off_at
    out["summary"] = summary
    out["rows"] = telemetry.recent()
    return out


def ride_through(seconds: float, seed: int) -> list[str]:
    """Runs until `seconds` of running in all: a run that stops is counted and started again
    (connect included, on a fresh virtual arm with the next seed)."""
    runs = []
    left = seconds
    while left > 1.0:
        faults = BusFaults(
            seed=seed + len(runs), lost=0.01, corrupt=0.005, start=FaultStart.CONNECTED
        )
        r = one_run(faults, left, stalls=True)
        runs.append(r)
        left -= r["summary"].elapsed_s
    summaries = [r["summary"] for r in runs]
    ticks = sum(s.ticks for s in summaries)
    elapsed = sum(s.elapsed_s for s in summaries)
    overruns = sum(s.overruns for s in summaries)
    missed = sum(s.missed_slots for s in summaries)
    held = sum(s.held_ticks for s in summaries)
    state = np.concatenate([r["rows"][:, COL["state"]] for r in runs]) * 1e3
    injected = {k: sum(r["injected"]["replies"].get(k, 0) for r in runs) for k in KINDS}
    counted = {k: 0 for k in KINDS}
    for r in runs:
        for kinds in r["counted"].values():
            for k in KINDS:
                counted[k] += kinds[k]
    stops = [r["error"] for r in runs if r["error"]]
    lines = [
        f"## Ride-through: {seconds:g} s at {FPS:g} Hz, 1 % lost + 0.5 % corrupt replies, "
        f"a {STALL_S * 1e3:g} ms stall every {STALL_EVERY_S:g} s (fault seeds {seed}..)",
        "",
        "| measure | value |",
        "|---|---|",
        f"| stops (a stopped run is started again) | {len(stops)} |",
        f"| ticks | {ticks} in {elapsed:.1f} s: {ticks / elapsed:.2f} Hz |",
        f"| overruns | {overruns} ({100.0 * overruns / max(1, ticks):.2f} % of ticks), "
        f"{missed} missed slots |",
        f"| held ticks (state missing after its retries) | {held} "
        f"({100.0 * held / max(1, ticks):.2f} % of ticks) |",
        f"| state stage p50 / p99 / max ms | {np.percentile(state, 50):.2f} / "
        f"{np.percentile(state, 99):.2f} / {state.max():.2f} |",
        f"| replies lost by the emulator / missing at the bus, no answer in time | "
        f"{injected['lost']} / {counted['lost'] + counted['late']} |",
        f"| replies corrupted by the emulator / counted corrupt at the bus | "
        f"{injected['corrupt']} / {counted['corrupt']} |",
        f"| 30 ms stalls injected | {sum(r['stalls'] for r in runs)} |",
        "",
    ]
    for i, r in enumerate(runs):
        s = r["summary"]
        lines.append(
            f"- run {i + 1}: {s.ticks} ticks, {s.elapsed_s:.1f} s, "
            + (f"stopped: {r['error']}" if r["error"] else s.stop_reason)
        )
        if s.faults:
            lines.append(f"  - {s.faults}")
        if r["report"]:
            lines.append(f"  - {r['report']}")
    return [*lines, ""]


def silent_servo(trials: int, after_s: float) -> list[str]:
    delays = []
    notes = []
    for trial in range(trials):
        faults = BusFaults(
            seed=trial, silent_servo=6, silent_after_s=after_s, start=FaultStart.CONNECTED
        )
        r = one_run(faults, after_s + 5.0, stalls=False)
        started = r["injected"]["started_at"]
        if started is None or r["torque_off_at"] is None:
            notes.append(f"trial {trial}: no measurement")
            continue
        delay = (r["torque_off_at"] - (started + after_s)) * 1e3
        if delay < 0 or "servo 6 (gripper) did not answer" not in r["error"]:
            notes.append(f"trial {trial}: stopped before servo 6 went silent, not counted: "
                         f"{r['error'] or r['summary'].stop_reason}")  # fmt: skip
            continue
        delays.append(delay)
        notes.append(f"trial {trial}: {r['error'][:160]}...")
    d = np.array(delays) if delays else np.full(1, np.nan)
    return [
        f"## Servo 6 silent {after_s:g} s in: time to the torque-off broadcast ({trials} trials)",
        "",
        f"min / median / max: {d.min():.0f} / {np.median(d):.0f} / {d.max():.0f} ms "
        f"(each: {', '.join(f'{x:.0f}' for x in d)} ms)",
        "",
        *(f"- {n}" for n in notes),
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="Ride-through run length.")
    parser.add_argument("--trials", type=int, default=5, help="Silent-servo trials.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    t = time.perf_counter()
    lines = [
        "# Runs on a faulty servo bus (benchmarks/bench_faults.py)",
        "",
        f"Machine: {machine()}",
        "",
        *ride_through(args.seconds, args.seed),
        *silent_servo(args.trials, 2.0),
        f"Wall time of the benchmark: {time.perf_counter() - t:.0f} s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
