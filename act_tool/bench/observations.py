"""Random observations for a benchmark, from an artifact's spec: RGB frames (noise and smooth
blobs, alternating) and states spread over the training range. Never zeros."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from act_tool.spec import EngineSpec


def make_observations(spec: EngineSpec, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    import cv2

    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {"n": np.array(n)}
    for cam in spec.cameras:
        frames = np.empty((n, cam.height, cam.width, 3), dtype=np.uint8)
        for i in range(n):
            if i % 2 == 0:
                frames[i] = rng.integers(0, 256, frames.shape[1:], dtype=np.uint8)
            else:
                small = rng.integers(
                    0, 256, (max(2, cam.height // 8), max(2, cam.width // 8), 3), dtype=np.uint8
                )
                frames[i] = cv2.resize(
                    small, (cam.width, cam.height), interpolation=cv2.INTER_CUBIC
                )
        data[cam.key] = frames
    if spec.state_names:
        lo, hi = np.array(spec.state_min), np.array(spec.state_max)
        data["observation.state"] = rng.uniform(lo, hi, (n, len(lo))).astype(np.float32)
    return data


def write_observations(spec: EngineSpec, path: Path, n: int, seed: int = 0) -> Path:
    np.savez(path, **make_observations(spec, n, seed))
    return path
