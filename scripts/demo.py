"""`make demo`: the tour of act-tool on a machine with no robot and no GPU.

Each stage is one `act-tool` command, printed before it runs, so the demo teaches the tool.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def stage(title: str, argv: list[str]) -> None:
    print(f"\n=== {title}\n$ {shlex.join(argv)}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    print(f"--- {title}: {time.perf_counter() - t0:.1f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--output", type=Path, default=Path("demo-out"))
    args = ap.parse_args()
    out = args.output.resolve()
    out.mkdir(parents=True, exist_ok=True)
    act_tool = str(BIN / "act-tool")
    t0 = time.perf_counter()

    ckpt = out / "tiny" / "pretrained_model"
    print(
        "=== 1. A tiny ACT checkpoint (random weights, saved with LeRobot's own classes)\n"
        f"$ {BIN / 'python'} -m act_tool.train.tiny_checkpoint {ckpt}",
        flush=True,
    )
    subprocess.run(
        [str(BIN / "python"), "-m", "act_tool.train.tiny_checkpoint", str(ckpt)], check=True
    )

    from act_tool.export.engine import available_builders

    builder = "tensorrt-rtx" if "tensorrt-rtx" in available_builders() else "onnx"
    artifacts = out / "artifacts"
    stage(
        "2. Export: ONNX checked against LeRobot, FP16, TensorRT engine",
        [act_tool, "export", str(ckpt), "--fp16", "--builder", builder, "-o", str(artifacts)],
    )

    print(f"\n=== Done in {time.perf_counter() - t0:.0f} s. Artifacts in {artifacts}:")
    for path in sorted(artifacts.iterdir()):
        print(f"  {path.name:<22} {path.stat().st_size / 1e6:8.1f} MB")


if __name__ == "__main__":
    main()
