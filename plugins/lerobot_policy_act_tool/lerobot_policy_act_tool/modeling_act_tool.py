"""ActToolPolicy: an act-tool export folder as a LeRobot policy. A thin adapter: the runner,
self-check, executors and robot check are act_tool's (act_tool.lerobot_policy.engine_policy,
act_tool.lerobot_policy.robot_match); this maps LeRobot's calls onto them.

Loading (LeRobot calls `from_pretrained` before it connects the robot): the LeRobot version,
the robot's joints and cameras against the artifact's spec, the backend, the artifact and its
self-check. Any refusal inside a LeRobot command ends it with the message alone (no traceback),
the robot never connected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.pretrained import PreTrainedPolicy
from torch import Tensor

from act_tool.errors import ActToolError
from act_tool.lerobot_policy.engine_policy import EngineChoice, EnginePolicy
from act_tool.lerobot_policy.lerobot_context import (
    caller_robot,
    check_lerobot_version,
    in_lerobot_command,
)
from act_tool.lerobot_policy.robot_match import check_robot_features
from act_tool.runtime.artifact_folder import choose_artifact
from act_tool.runtime.self_check import SKIP_FLAG
from act_tool.spec import EngineSpec, spec_path
from lerobot_policy_act_tool.configuration_act_tool import ActToolConfig

RTC_REFUSED = (
    "real-time chunking (--inference.type=rtc) needs a flow-matching policy that can continue a "
    "chunk it started (inference_delay, prev_chunk_left_over); ACT predicts each chunk from the "
    "observation alone. Use --inference.type=sync (the default)."
)


class PluginError(ActToolError):
    pass


class ActToolPolicy(PreTrainedPolicy):
    config_class = ActToolConfig
    name = "act_tool"

    def __init__(self, config: ActToolConfig, folder: Path | str | None = None, **kwargs: Any):
        super().__init__(config)
        folder = Path(folder or config.pretrained_path or "")
        self.engine = EnginePolicy(
            EngineChoice(
                folder=folder,
                backend=config.backend,
                artifact=config.artifact,
                n_action_steps=config.n_action_steps,
                temporal_ensemble_coeff=config.temporal_ensemble_coeff,
                skip_self_check=config.skip_self_check,
                threads=config.threads,
                torch_threads=config.torch_threads,
            ),
            log=_log,
        )

    @classmethod
    def from_pretrained(
        cls,
        pretrained_name_or_path: str | Path,
        *,
        config: PreTrainedConfig | None = None,
        **_: Any,
    ) -> ActToolPolicy:
        try:
            check_lerobot_version()
            folder = Path(pretrained_name_or_path)
            if not folder.is_dir():
                raise PluginError(
                    f"{folder}: not a folder. --policy.path names the folder `act-tool export` "
                    "wrote (the hub is not searched for act-tool artifacts)."
                )
            if config is None:
                config = PreTrainedConfig.from_pretrained(folder)
            if not isinstance(config, ActToolConfig):
                raise PluginError(f"{folder}: config.json is not an act_tool config")
            robot = caller_robot()
            if robot is not None:
                if robot.inference == "rtc":
                    raise PluginError(RTC_REFUSED)
                artifact, _ = choose_artifact(folder, config.backend, config.artifact)
                check_robot_features(
                    EngineSpec.read(spec_path(artifact)),
                    robot.features,
                    robot.rename_map,
                    robot.units,
                )
            policy = cls(config, folder)
        except ActToolError as e:
            if in_lerobot_command():
                message = str(e).replace(SKIP_FLAG, "--policy.skip_self_check=true")
                message = message.replace(
                    "set n_action_steps to 1", "pass --policy.n_action_steps=1"
                )
                raise SystemExit(
                    f"act-tool policy: {message}\nThe robot was not connected."
                ) from None
            raise
        policy.eval()
        return policy

    # --- LeRobot's policy calls -------------------------------------------------------------

    def reset(self) -> None:
        self.engine.reset()

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, Tensor], **kwargs: Any) -> Tensor:
        """[1, chunk_size, A] in robot units (the plugin's postprocessor does no arithmetic)."""
        return torch.from_numpy(self.engine.predict_chunk(batch).copy())[None]

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor], **kwargs: Any) -> Tensor:
        return self.engine.select_action(batch)

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict | None]:
        raise NotImplementedError("an act-tool engine runs only; train the LeRobot checkpoint")

    def get_optim_params(self) -> dict:
        return {}

    def __del__(self) -> None:
        engine = self.__dict__.get("engine")  # nn.Module keeps plain attributes here
        if engine is not None:
            engine.close()


def _log(message: str) -> None:
    import logging

    logging.getLogger("lerobot_policy_act_tool").info(message)
