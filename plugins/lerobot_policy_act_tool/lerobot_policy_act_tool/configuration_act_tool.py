"""The plugin's policy config: what `--policy.*` options set on the command line.

--policy.backend=auto|tensorrt|onnxruntime|openvino   (auto: the fastest installed)
--policy.artifact=act.fp16.onnx                       (a file in the folder; default: the
                                                       backend's preferred one)
--policy.n_action_steps=N  --policy.temporal_ensemble_coeff=C  (as LeRobot's ACT)
--policy.skip_self_check=true                         (only overrides a missing check file)
--policy.threads=N                                    (CPU threads of the runner)
"""

from __future__ import annotations

from dataclasses import dataclass

from lerobot.configs.policies import PreTrainedConfig
from lerobot.optim.optimizers import AdamWConfig


@PreTrainedConfig.register_subclass("act_tool")
@dataclass
class ActToolConfig(PreTrainedConfig):
    backend: str = "auto"
    artifact: str | None = None
    n_action_steps: int = 100
    temporal_ensemble_coeff: float | None = None
    skip_self_check: bool = False
    threads: int | None = None
    torch_threads: int = (
        1  # torch's threads in this process (LeRobot's per-tick tensors); 0: default
    )
    # The values are checked when the policy loads (ActToolPolicy.from_pretrained), where a
    # refusal is one clear message instead of a traceback from LeRobot's config parser.

    # --- what PreTrainedConfig asks of every policy (an engine is not trained) --------------

    @property
    def observation_delta_indices(self) -> None:
        return None

    @property
    def action_delta_indices(self) -> None:
        return None

    @property
    def reward_delta_indices(self) -> None:
        return None

    def get_optimizer_preset(self) -> AdamWConfig:
        raise NotImplementedError("an act-tool engine runs only; train the LeRobot checkpoint")

    def get_scheduler_preset(self) -> None:
        return None

    def validate_features(self) -> None:
        pass
