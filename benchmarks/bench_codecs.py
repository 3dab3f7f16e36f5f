"""CPU time per 480x640 frame of each `--record-codec`, encoded with LeRobot's own settings
(act_tool.eval.lerobot_sink.CODECS through LeRobot's RGBEncoderConfig, pyav as LeRobot's writer
uses it): what choosing the recorder's codec costs a robot computer's CPU.

Frames: one image of the twin's front camera at 480x640, its texture shifted 3 pixels per frame
(motion in every block, as a moving arm gives); once clean (as the twin renders) and once with
fresh Gaussian noise per frame (sigma 4 levels, about a webcam's sensor noise in ordinary light),
which an encoder meets on a real arm and which costs it more. CPU time counts every thread of the process
(the encoders' own threads included); wall time is per frame when frames come as fast as the
encoder takes them.

    .venv/bin/python benchmarks/bench_codecs.py --frames 300
"""

from __future__ import annotations

import argparse
import io
import resource
import time

import numpy as np

from act_tool.eval.lerobot_sink import CODECS


def frames(n: int, noise: float) -> list[np.ndarray]:
    from act_tool.sim.twin import Twin

    twin = Twin()
    twin.reset(seed=0)
    image = twin.render("front", np.empty((480, 640, 3), np.uint8), rgb=True)  # LeRobot's order
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        shifted = np.roll(image, 3 * i, axis=1).astype(np.float32)
        if noise:
            shifted += rng.normal(0.0, noise, shifted.shape).astype(np.float32)
        out.append(np.clip(shifted, 0, 255).astype(np.uint8))
    return out


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def encode(codec: str, images: list[np.ndarray]) -> tuple[float, float, float]:
    """(CPU ms per frame, wall ms per frame, kB per frame) for one codec."""
    import av
    from lerobot.configs.video import RGBEncoderConfig

    config = RGBEncoderConfig(**CODECS[codec])
    options = {k: str(v) for k, v in config.get_codec_options().items() if k != "g"}
    buf = io.BytesIO()
    out = av.open(buf, "w", format="mp4")
    stream = out.add_stream(config.vcodec, rate=30, options=options)
    stream.width, stream.height, stream.pix_fmt = 640, 480, config.pix_fmt
    stream.gop_size = int(config.g or 2)
    wall, cpu = time.perf_counter(), cpu_s()
    for image in images:
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    n = len(images)
    wall, cpu = time.perf_counter() - wall, cpu_s() - cpu
    return 1e3 * cpu / n, 1e3 * wall / n, len(buf.getvalue()) / n / 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--noise", type=float, default=4.0, help="sensor noise sigma (levels)")
    args = ap.parse_args()
    print(
        "| frames | codec | CPU ms / frame | wall ms / frame | kB / frame | "
        "CPU for 2 cameras x 30 fps |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for label, noise in (("twin, clean", 0.0), (f"twin + noise sigma {args.noise:g}", args.noise)):
        images = frames(args.frames, noise)
        for codec in CODECS:
            cpu, wall, size = encode(codec, images)
            print(
                f"| {label} | {codec} | {cpu:.1f} | {wall:.1f} | {size:.0f} | "
                f"{cpu * 60 / 1e3:.2f} cores |"
            )


if __name__ == "__main__":
    main()
