"""LeRobot's own policy behind the runner interface, for `act-tool eval --compare lerobot`: on
every tick, the observation goes through what LeRobot's robot loop runs (LeRobot's
`prepare_observation_for_inference`, the saved preprocessor, `ACTPolicy.select_action` with its
own action queue or temporal ensembler, the saved postprocessor), and the action comes back as
a chunk of one. The loop therefore executes exactly what `select_action` chose, tick by tick;
`reset()` is LeRobot's `policy.reset()`.

Frames arrive as the cameras deliver them (uint8 BGR, the spec's order) and are handed to LeRobot
in RGB, as LeRobot's OpenCV cameras deliver them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from act_tool.errors import require
from act_tool.runtime.runners.base import ACTION, STATE, Runner
from act_tool.spec import EngineSpec


class LeRobotRunner(Runner):
    backend = "lerobot"

    def __init__(
        self, checkpoint: Path, spec: EngineSpec, ckpt: Any, threads: int | None = None
    ) -> None:
        # one action per call: LeRobot's queue inside select_action decides which
        super().__init__(checkpoint, replace(spec, chunk_size=1, n_action_steps=1,
                                             temporal_ensemble_coeff=None))  # fmt: skip
        self._ckpt = ckpt
        self.threads = threads  # torch's intra-op threads; None: torch's default (the cores)
        self._torch: Any = None

    @property
    def description(self) -> str:
        cfg = self._ckpt.config
        mode = (
            f"temporal ensembling {cfg.temporal_ensemble_coeff:g}"
            if cfg.temporal_ensemble_coeff is not None
            else f"queue of {cfg.n_action_steps}"
        )
        return f"LeRobot eager (select_action, {mode})"

    def _open(self) -> None:
        import torch

        self._torch = torch
        if self.threads is not None:  # parallel jobs share the cores (else they oversubscribe)
            torch.set_num_threads(self.threads)
        for ts in self.input_specs:
            self.inputs[ts.name] = ts.allocate()
        for ts in self.output_specs:
            self.outputs[ts.name] = ts.allocate()
        self._ckpt.policy.eval()
        self._ckpt.policy.reset()

    def reset(self) -> None:
        """LeRobot's policy.reset(): the action queue (or ensembler) emptied."""
        self._ckpt.policy.reset()

    def _infer(self) -> None:
        from lerobot.policies.utils import prepare_observation_for_inference

        raw: dict[str, np.ndarray] = {}
        for cam in self.spec.cameras:
            frame = self.inputs[cam.key][0]
            raw[cam.key] = frame[..., ::-1].copy() if cam.channel_order == "bgr" else frame.copy()
        if STATE in self.inputs:
            raw[STATE] = self.inputs[STATE][0].copy()
        ckpt, torch = self._ckpt, self._torch
        with torch.inference_mode():
            batch = ckpt.preprocessor(prepare_observation_for_inference(raw, torch.device("cpu")))
            action = ckpt.postprocessor(ckpt.policy.select_action(batch))
        self.outputs[ACTION][0, 0] = action.reshape(-1).float().cpu().numpy()


def open_lerobot_runner(
    checkpoint: Path, spec: EngineSpec, threads: int | None = None
) -> LeRobotRunner:
    """LeRobot's policy from `checkpoint`, described by the artifact's `spec` (its cameras, units
    and channel order: the same observations reach both); `threads`: torch's share of the cores."""
    require("lerobot", "export", "Evaluating LeRobot's own policy (--compare lerobot)")
    from act_tool.policy.checkpoint import load_checkpoint

    return LeRobotRunner(Path(checkpoint), spec, load_checkpoint(Path(checkpoint)), threads)
