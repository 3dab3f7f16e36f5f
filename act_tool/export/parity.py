"""Parity: an exported model's actions against LeRobot's own pipeline on the same observations.

The reference is exactly what LeRobot's robot loop runs: `prepare_observation_for_inference`
(uint8 RGB HWC -> float CHW /255, batch dim), the saved preprocessor, `predict_action_chunk`,
the saved postprocessor. Observations are random (never zeros) or frames of a real dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.errors import ActToolError
from act_tool.spec import EngineSpec


@dataclass(frozen=True)
class Observation:
    """One observation as a LeRobot robot delivers it: RGB uint8 HWC frames, float32 state."""

    frames: dict[str, np.ndarray]  # LeRobot camera key -> [H, W, 3] uint8, RGB
    state: np.ndarray | None  # [S] float32, robot units


def random_observations(ckpt, n: int, seed: int = 0) -> list[Observation]:
    """Random frames (noise and smooth blobs, alternating) and states spread over the dataset
    range (mean +- 2 std where no range is stored)."""
    import cv2

    rng = np.random.default_rng(seed)
    out = []
    stats = ckpt.stats.get("observation.state", {})
    for i in range(n):
        frames = {}
        for key in ckpt.camera_keys:
            _, h, w = ckpt.config.image_features[key].shape
            if i % 2 == 0:
                frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            else:
                small = rng.integers(0, 256, (max(2, h // 8), max(2, w // 8), 3), dtype=np.uint8)
                frame = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
            frames[key] = frame
        state = None
        if ckpt.state_key:
            if "min" in stats and "max" in stats:
                lo, hi = stats["min"], stats["max"]
            else:
                lo, hi = stats["mean"] - 2 * stats["std"], stats["mean"] + 2 * stats["std"]
            state = rng.uniform(lo, hi).astype(np.float32)
        out.append(Observation(frames, state))
    return out


def dataset_observations(ckpt, dataset: Path, n: int) -> list[Observation]:
    """`n` frames spread evenly over a local LeRobot dataset."""
    ds = open_dataset(ckpt, dataset)
    return frames_at(ckpt, ds, parity_indices(len(ds), n))


def parity_indices(n_frames: int, n: int) -> list[int]:
    """The frames the parity gate checks: `n` spread evenly over a dataset of `n_frames`."""
    return [int(i) for i in np.linspace(0, n_frames - 1, num=min(n, n_frames)).round()]


def open_dataset(ckpt, dataset: Path):
    """The local LeRobot dataset at `dataset`, checked to hold the policy's cameras."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from act_tool.policy.video_backend import video_backend

    dataset = Path(dataset)
    if not (dataset / "meta" / "info.json").is_file():
        raise ActToolError(
            f"{dataset}: not a local LeRobot dataset (no meta/info.json). Pass the dataset folder."
        )
    ds = LeRobotDataset(
        repo_id=f"local/{dataset.name}", root=dataset, video_backend=video_backend()
    )
    missing = [k for k in ckpt.camera_keys if k not in ds.features]
    if missing:
        raise ActToolError(
            f"{dataset}: has no {', '.join(missing)}; the policy was trained on other cameras."
        )
    return ds


def frames_at(ckpt, ds, indices: list[int]) -> list[Observation]:
    """The observations at `indices` of an opened dataset, as a robot delivers them."""
    out = []
    for idx in indices:
        item = ds[int(idx)]
        frames = {}
        for key in ckpt.camera_keys:
            chw = item[key].numpy()
            frames[key] = np.clip(np.rint(chw.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)
        state = item["observation.state"].numpy().astype(np.float32) if ckpt.state_key else None
        out.append(Observation(frames, state))
    return out


def lerobot_chunks(ckpt, observations: list[Observation]) -> np.ndarray:
    """LeRobot's action chunks [N, chunk, A] in robot units, computed the way its robot loop does."""
    import torch
    from lerobot.policies.utils import prepare_observation_for_inference

    chunks = []
    for obs in observations:
        raw: dict[str, Any] = {k: f.copy() for k, f in obs.frames.items()}
        if obs.state is not None:
            raw["observation.state"] = obs.state.copy()
        with torch.inference_mode():
            batch = prepare_observation_for_inference(raw, torch.device("cpu"))
            batch = ckpt.preprocessor(batch)
            actions = ckpt.policy.predict_action_chunk(batch)
            actions = ckpt.postprocessor(actions)
        chunks.append(actions[0].float().numpy())
    return np.stack(chunks)


def artifact_inputs(obs: Observation, spec: EngineSpec) -> dict[str, np.ndarray]:
    """The artifact's inputs for one observation (frames in the spec's channel order)."""
    feeds = {}
    for cam in spec.cameras:
        frame = obs.frames[cam.key]
        if cam.channel_order == "bgr":
            frame = frame[..., ::-1]
        feeds[cam.key] = np.ascontiguousarray(frame)[None]
    if spec.state_names:
        feeds["observation.state"] = obs.state.astype(np.float32)[None]
    return feeds


def onnx_chunks(onnx_path: Path, spec: EngineSpec, observations: list[Observation]) -> np.ndarray:
    """ONNX Runtime (CPU) action chunks [N, chunk, A]."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    return np.stack([session.run(["action"], artifact_inputs(o, spec))[0][0] for o in observations])


@dataclass(frozen=True)
class ParityReport:
    """Per action dimension: max and mean absolute error, in robot units and relative to std."""

    source: str  # "random" or the dataset path
    n_observations: int
    names: tuple[str, ...]
    max_abs: tuple[float, ...]
    mean_abs: tuple[float, ...]
    max_rel: tuple[float, ...]
    mean_rel: tuple[float, ...]
    bound: float

    @property
    def worst_rel(self) -> float:
        return max(self.max_rel)

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.worst_rel)) and self.worst_rel <= self.bound

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_observations": self.n_observations,
            "bound_rel": self.bound,
            "worst_rel": self.worst_rel,
            "passed": self.passed,
            "per_dim": {
                name: {
                    "max_abs": self.max_abs[i],
                    "mean_abs": self.mean_abs[i],
                    "max_rel": self.max_rel[i],
                    "mean_rel": self.mean_rel[i],
                }
                for i, name in enumerate(self.names)
            },
        }

    def table(self, title: str) -> str:
        lines = [
            f"{title}: {self.n_observations} {self.source} observations, bound {self.bound:.0e} "
            f"of action std -> {'PASS' if self.passed else 'FAIL'} (worst {self.worst_rel:.2e})",
            f"  {'action':<22}{'max abs':>11}{'mean abs':>11}{'max/std':>11}{'mean/std':>11}",
        ]
        for i, name in enumerate(self.names):
            lines.append(
                f"  {name:<22}{self.max_abs[i]:>11.2e}{self.mean_abs[i]:>11.2e}"
                f"{self.max_rel[i]:>11.2e}{self.mean_rel[i]:>11.2e}"
            )
        return "\n".join(lines)


def compare(
    reference: np.ndarray,
    candidate: np.ndarray,
    scale: np.ndarray,
    names: tuple[str, ...],
    bound: float,
    source: str,
) -> ParityReport:
    err = np.abs(candidate.astype(np.float64) - reference.astype(np.float64))
    err = np.where(np.isfinite(err), err, np.inf).reshape(-1, err.shape[-1])
    max_abs, mean_abs = err.max(axis=0), err.mean(axis=0)
    return ParityReport(
        source=source,
        n_observations=int(reference.shape[0]),
        names=names,
        max_abs=tuple(float(x) for x in max_abs),
        mean_abs=tuple(float(x) for x in mean_abs),
        max_rel=tuple(float(x) for x in max_abs / scale),
        mean_rel=tuple(float(x) for x in mean_abs / scale),
        bound=bound,
    )
