"""LeRobot's AdamW on the CPU, run by PyTorch's fused kernel instead of its per-tensor loop.

LeRobot builds `torch.optim.AdamW` with PyTorch's defaults, which on CPU tensors is the slowest
implementation, one parameter tensor at a time (about 50 ms a step for the 13 M parameters of
the demo's policy on two cores; the fused kernel takes about 6 ms). The algorithm, its
hyperparameters and the state it saves are the same; only the order of rounding differs.
Written by hand because LeRobot's optimizer config has no field for it.
"""

from __future__ import annotations

import os

import torch


def wanted() -> bool:
    """Whether to use the fused kernel (`ACT_TOOL_FUSED_ADAMW=0`: PyTorch's default instead)."""
    return os.environ.get("ACT_TOOL_FUSED_ADAMW", "1") != "0"


def choose_adamw_kernel(optimizer: torch.optim.Optimizer) -> bool:
    """After the optimizer is built and again after a checkpoint's state is loaded into it
    (loading replaces its settings with the saved ones): the fused kernel where `wanted()` and
    possible, PyTorch's default otherwise. Returns whether it runs fused."""
    if wanted():
        return use_fused_adamw(optimizer)
    if type(optimizer) in (torch.optim.AdamW, torch.optim.Adam):
        for settings in (*optimizer.param_groups, optimizer.defaults):
            settings["fused"], settings["foreach"] = None, None
    return False


def use_fused_adamw(optimizer: torch.optim.Optimizer) -> bool:
    """Switches an Adam/AdamW over FP32 CPU parameters to the fused kernel; whether it did.
    Anything else (another optimizer, GPU or low-precision parameters) is left as it is."""
    if type(optimizer) not in (torch.optim.AdamW, torch.optim.Adam):
        return False
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if not params or any(p.device.type != "cpu" or p.dtype != torch.float32 for p in params):
        return False
    if any(
        group.get("differentiable") or group.get("capturable") for group in optimizer.param_groups
    ):
        return False
    for settings in (*optimizer.param_groups, optimizer.defaults):
        settings["fused"], settings["foreach"] = True, False
    optimizer._step_supports_amp_scaling = True  # as the constructor sets it for fused=True
    return True
