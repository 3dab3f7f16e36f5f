"""An exported artifact behind LeRobot's policy calls: what the `lerobot_policy_act_tool` plugin
wraps. Loads the runner (act_tool.runtime.runners), self-checks it before anything can move,
and answers `predict_action_chunk` / `select_action` / `reset` as LeRobot's ACTPolicy does, with
the executors the control loop uses (act_tool.runtime.executor: action queue, temporal
ensembling).

The observations arrive as LeRobot's sync inference hands them to a policy: images float32
[1, 3, H, W] in 0..1 (RGB from LeRobot's cameras; LeRobot divided the camera's uint8 by 255),
the state float32 [1, S] in robot units. The engine reads uint8 [1, H, W, 3] in the spec's channel
order: each image is read through a numpy view of its tensor, scaled and rounded back to the
camera's exact bytes into one plane per channel, and the planes interleaved into the runner's own
input buffer in the engine's channel order (no allocation per tick); the state is read through a
numpy view of the tensor. The chunk comes back in robot units (the graph holds
the normalization), so the plugin's processors do no arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from act_tool.errors import ActToolError
from act_tool.runtime.artifact_folder import choose_artifact
from act_tool.runtime.executor import make_executor
from act_tool.runtime.runners import ACTION, STATE, RunnerOptions, open_runner
from act_tool.runtime.self_check import run_self_check
from act_tool.spec import ChannelOrder, EngineSpec

Log = Callable[[str], None]


class EnginePolicyError(ActToolError):
    """An observation the engine cannot take (missing key, wrong size)."""


@dataclass(frozen=True)
class EngineChoice:
    """What to run from an export folder, and how to execute its chunks."""

    folder: Path
    backend: str = "auto"
    artifact: str | None = None  # a file in the folder; None: the backend's preferred one
    n_action_steps: int | None = None  # None: the spec's
    temporal_ensemble_coeff: float | None = None
    skip_self_check: bool = False  # overrides a missing check file only, never a failing check
    threads: int | None = None
    # torch's intra-op threads in this process (0: leave torch's default). LeRobot's own torch
    # work per tick is a few small tensor copies (uint8 -> float, CHW); split over torch's thread
    # pool they waited milliseconds for its threads to wake on a loaded machine (30 ms a call
    # measured in lerobot-rollout, 0.4 ms on one thread): one thread is faster here.
    torch_threads: int = 1


class EnginePolicy:
    """The opened runner, its self-check passed, and an executor. Close it with `close()`."""

    def __init__(self, choice: EngineChoice, log: Log = print) -> None:
        artifact, backend = choose_artifact(choice.folder, choice.backend, choice.artifact)
        if choice.torch_threads > 0:
            torch.set_num_threads(choice.torch_threads)
        # LeRobot's loop runs its own work (cameras, torch processors) between inferences, on
        # this thread at normal priority: ONNX Runtime's idle threads must not spin beside it
        # (the runners' `asynchronous` case); spinning threads slowed every LeRobot step of a
        # rollout many times over on 2 cores (benchmarks/results/lerobot_rollout.md).
        options = RunnerOptions(threads=choice.threads, asynchronous=True)
        self.runner = open_runner(artifact, backend, options)
        self.spec: EngineSpec = self.runner.spec
        spec = self.spec
        n_steps = choice.n_action_steps or spec.n_action_steps
        if choice.temporal_ensemble_coeff is not None and choice.n_action_steps is None:
            n_steps = 1  # ensembling executes one action per query
        self.executor = make_executor(
            spec.chunk_size, len(spec.action_names), n_steps, choice.temporal_ensemble_coeff
        )
        self.ensembling = choice.temporal_ensemble_coeff is not None
        self.runner.__enter__()
        try:
            log(f"act-tool: loaded {artifact} with {self.runner.description}")
            run_self_check(self.runner, log, choice.skip_self_check)
        except BaseException:
            self.runner.__exit__(None, None, None)
            raise
        self._action = np.zeros(len(spec.action_names), dtype=np.float32)
        # per camera: the runner's uint8 input [H, W, 3], one uint8 plane per engine channel,
        # and which LeRobot (RGB) channel each engine channel takes
        self._frames = {}
        for cam in spec.cameras:
            planes = [np.empty((cam.height, cam.width), dtype=np.uint8) for _ in range(3)]
            order = (2, 1, 0) if cam.channel_order == ChannelOrder.BGR else (0, 1, 2)
            self._frames[cam.key] = (self.runner.inputs[cam.key][0], planes, order)
        self._state = self.runner.inputs.get(STATE)

    # --- LeRobot's calls --------------------------------------------------------------------

    def reset(self) -> None:
        self.executor.reset()
        self.runner.reset()

    def predict_chunk(self, batch: Mapping[str, torch.Tensor]) -> np.ndarray:
        """The engine's chunk [chunk_size, A] in robot units (valid until the next call)."""
        self.feed(batch)
        return self.runner.infer()[ACTION][0]

    def select_action(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """[1, A]: the next action, as LeRobot's ACTPolicy.select_action picks it."""
        ex = self.executor
        if self.ensembling or ex.needs_inference():
            ex.push(self.predict_chunk(batch))
        ex.pop(self._action)
        return torch.from_numpy(self._action.copy())[None]

    def close(self) -> None:
        self.runner.__exit__(None, None, None)

    # --- observations -> the runner's inputs ------------------------------------------------

    def feed(self, batch: Mapping[str, torch.Tensor]) -> None:
        for key, (dst, planes, order) in self._frames.items():
            image = _take(batch, key)
            if image.device.type != "cpu":
                image = image.cpu()
            if tuple(image.shape) != (1, 3, *dst.shape[:2]) or image.dtype != torch.float32:
                raise EnginePolicyError(
                    f"{key}: the engine needs float32 images of shape {[1, 3, *dst.shape[:2]]} "
                    f"(0..1, as LeRobot prepares them), got {image.dtype} {list(image.shape)}"
                )
            chw = image.detach().numpy()[0]  # a view of the tensor
            # OpenCV, one thread, SIMD: x * 255 rounded to the nearest byte (the camera's byte
            # exactly: x = byte / 255 in float32 is within 1e-5 of it), then the planes
            # interleaved into the engine's HWC buffer in its channel order. (torch would split
            # these small copies over its thread pool, whose hand-offs cost milliseconds on a
            # loaded machine; numpy's strided cast took 4x as long.)
            for plane, src in zip(planes, order, strict=True):
                cv2.convertScaleAbs(chw[src], plane, 255.0)
            cv2.merge(planes, dst)
        if self._state is not None:
            state = _take(batch, STATE)
            if state.device.type != "cpu":
                state = state.cpu()
            view = state.detach().numpy()  # shares the tensor's memory
            if view.shape != self._state.shape:
                raise EnginePolicyError(
                    f"{STATE}: the engine needs shape {list(self._state.shape)} "
                    f"({', '.join(self.spec.state_names)}), got {list(view.shape)}"
                )
            np.copyto(self._state, view, casting="same_kind")


def _take(batch: Mapping[str, torch.Tensor], key: str) -> torch.Tensor:
    try:
        return batch[key]
    except KeyError:
        raise EnginePolicyError(
            f"the observation has no {key!r} (it has {', '.join(sorted(batch))}); the robot does "
            "not provide what the artifact was exported for"
        ) from None
