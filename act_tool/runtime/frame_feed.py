"""How a query tick's frames reach the runner's inputs, decided once per run.

- bound: each camera's newest buffer is bound to the runner's input without a copy, where the
  runner reads the caller's memory (ONNX Runtime, PyTorch on the CPU) and the policy takes BGR,
  as cameras deliver; the runner prepares whatever it keeps per buffer before the first tick;
- copied: the frames are copied straight into the runner's input buffers (TensorRT, CUDA);
- staged: an RGB policy's frames are copied into BGR staging buffers, then flipped into the
  runner's inputs (`flip`).
When the run ends, `release` points the runner back at its own buffers (the cameras stop).
"""

from __future__ import annotations

import contextlib

import numpy as np

from act_tool.runtime.interfaces import Cameras
from act_tool.runtime.runners.base import STATE, Runner, RunnerError


class FrameFeed:
    def __init__(self, runner: Runner, cameras: Cameras) -> None:
        spec = runner.spec
        self.runner, self.cameras = runner, cameras
        self.bound = runner.binds_without_copy and all(
            c.channel_order == "bgr" for c in spec.cameras
        )
        self._to_bind = tuple((c.name, c.key) for c in spec.cameras) if self.bound else ()
        if self.bound:  # whatever the runner sets up per buffer (combination), it does now
            runner.prepare_inputs({key: cameras.buffers(name) for name, key in self._to_bind})
        self._own = {key: runner.inputs[key] for _, key in self._to_bind}
        self._frames: dict[str, np.ndarray] = {}  # camera name -> where read_into copies
        self._rgb: list[tuple[np.ndarray, np.ndarray]] = []  # (staged BGR, runner's RGB input)
        for cam in () if self.bound else spec.cameras:
            dst = runner.inputs[cam.key]
            if cam.channel_order == "bgr":
                self._frames[cam.name] = dst
            else:
                staging = np.zeros_like(dst)
                self._frames[cam.name] = staging
                self._rgb.append((staging, dst))
        self.staged = bool(self._rgb)
        # camera name -> the BGR frame the last `read` gave the policy (observers copy it)
        self.seen: dict[str, np.ndarray] = dict(self._frames)
        self.generation = 0  # reads so far; bumped before a read rewrites `seen`

    def read(self) -> None:
        """The newest frames into the runner. Bound: the runner reads the acquired buffer, which
        its camera leaves alone until this camera's next acquire; in async mode the worker reads
        it while the loop ticks on, which is safe because the loop acquires only when the
        scheduler wants an observation, and the worker is idle then."""
        self.generation += 1
        if self.bound:
            runner, cameras = self.runner, self.cameras
            seen = self.seen
            for name, key in self._to_bind:
                frame = cameras.acquire(name)[0]
                runner.bind_input(key, frame)
                seen[name] = frame
        else:
            self.cameras.read_into(self._frames)

    def current_generation(self) -> int:
        return self.generation

    def flip(self) -> None:
        """RGB policies: the staged BGR frames, flipped into the runner's inputs."""
        for src, dst in self._rgb:
            np.copyto(dst, src[..., ::-1])

    def observe(self, state: np.ndarray) -> None:
        """Warm-up: the frames and `state` read before the loop, into the runner's inputs."""
        self.read()
        np.copyto(self.runner.inputs[STATE][0], state)
        self.flip()

    def release(self) -> None:
        """The runner reads its own buffers again, not the cameras' (they stop after the run).
        The frames of this run's last query are no longer held: the generation moves on."""
        self.generation += 1
        with contextlib.suppress(RunnerError):  # a runner closed meanwhile reads nothing
            for key, buf in self._own.items():
                self.runner.bind_input(key, buf)
