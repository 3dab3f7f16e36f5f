"""The scripted expert's success rate in the digital twin, over consecutive seeds.

    python benchmarks/bench_sim_expert.py --seeds 0:100

Each seed is one episode in lockstep at 30 fps (physics only, no rendering: the expert does not
look): the expert's plan for the seed's layout, the task monitor fed every tick, success judged
at the end (cube in the bowl, released). Prints one line per failure and a summary.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from act_tool.sim.detectors import TaskMonitor, episode_success
from act_tool.sim.expert import ScriptedExpert
from act_tool.sim.twin import Twin


def run_episode(
    twin: Twin, expert: ScriptedExpert, seed: int, fps: int
) -> tuple[bool, TaskMonitor]:
    plan = expert.plan(twin.reset(seed))
    monitor = TaskMonitor()
    for goal in plan.goals:
        twin.set_goals(goal)
        twin.step(1.0 / fps)
        monitor.update(twin.cell_state())
    return episode_success(twin.cell_state()), monitor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0:100", help="FIRST:END (end exclusive)")
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args()
    first, end = (int(v) for v in args.seeds.split(":"))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    successes, attempts, lifted, openings = 0, 0, 0, []
    t0 = time.perf_counter()
    with Twin() as twin:
        expert = ScriptedExpert(twin.kinematics, twin.home, args.fps)
        for seed in range(first, end):
            ok, monitor = run_episode(twin, expert, seed, args.fps)
            successes += ok
            attempts += len(monitor.attempts)
            lifted += monitor.successful_grasps
            openings += [a.opening_gap_mm for a in monitor.attempts]
            if not ok:
                cube = twin.cell_state().cube_position.round(3).tolist()
                print(f"seed {seed}: failed; cube at {cube}, layout {twin.layout}")
    n = end - first
    seconds = time.perf_counter() - t0
    print(
        f"success {successes}/{n} = {100 * successes / n:.1f} %; grasp attempts {attempts}, "
        f"successful grasps {lifted}; pad gap before grasping {np.mean(openings):.1f} mm "
        f"(min {np.min(openings):.1f}); {ScriptedExpert.episode_ticks(args.fps)} ticks per "
        f"episode; {seconds:.1f} s wall ({seconds / n:.2f} s per episode)"
    )


if __name__ == "__main__":
    main()
