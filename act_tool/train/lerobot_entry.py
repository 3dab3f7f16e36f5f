"""LeRobot's own `lerobot-train`, with an image dataset served from memory where it fits.

`act-tool train` starts this module instead of `lerobot.scripts.lerobot_train`: it replaces
LeRobot's dataset factory in that module by one that wraps the training dataset with
`act_tool.train.frame_source` (every image decoded once; the same items, checked against
LeRobot's in the tests), then runs LeRobot's `main()` unchanged. A dataset with videos, image
transforms or a selection of episodes, or one whose frames would take more than half the
memory available, keeps LeRobot's own loader. On the CPU, LeRobot's AdamW runs on PyTorch's
fused kernel (`fused_adamw.py`), and under BF16 autocast the ResNet18 gets its images in
channels-last memory order (a forward pre-hook: the weights, their layout and the checkpoint
stay LeRobot's), which oneDNN's BF16 convolutions run faster (in FP32 they ran slower here).
Written by hand because LeRobot's trainer has no hook for a dataset source, a memory format or
an optimizer implementation.
"""

from __future__ import annotations

import logging
import os

import torch

MEMORY_SHARE = 0.5  # at most this share of the available memory for decoded frames


class MemoryBacked(torch.utils.data.Dataset):
    """LeRobot's dataset with its items served by `frames`; everything else is the dataset's."""

    def __init__(self, dataset, frames) -> None:
        self._dataset = dataset
        self._frames = frames

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, i: int) -> dict:
        return self._frames[i]

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_dataset", "_frames"):  # unpickling, copying
            raise AttributeError(name)
        return getattr(self._dataset, name)


def available_memory() -> int:
    """Bytes of memory available now (Linux's MemAvailable; elsewhere the physical total)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def frames_bytes(meta) -> int:
    """What an image dataset's frames take decoded (uint8)."""
    total = 0
    for cam in meta.camera_keys:
        h, w, c = meta.shapes[cam]
        total += h * w * c
    return total * meta.total_frames


def serve_from_memory(dataset):
    from act_tool.train.frame_source import in_memory_frames

    log = logging.getLogger("act_tool")
    need, have = frames_bytes(dataset.meta), available_memory()
    if need > MEMORY_SHARE * have:
        log.warning("act-tool: frames need %.1f GB decoded, %.1f GB available: LeRobot's own "
                    "loader serves them", need / 1e9, have / 1e9)  # fmt: skip
        return dataset
    frames = in_memory_frames(dataset)
    if frames is None:
        return dataset
    print(f"act-tool: {len(frames)} frames decoded into memory ({need / 1e9:.2f} GB)", flush=True)
    return MemoryBacked(dataset, frames)


def _channels_last(module, args):
    return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])


def images_channels_last(policy) -> bool:
    """Feeds a CPU ACT policy's backbone channels-last images; whether it did."""
    backbone = getattr(getattr(policy, "model", None), "backbone", None)
    if backbone is None or next(policy.parameters()).device.type != "cpu":
        return False
    backbone.register_forward_pre_hook(_channels_last)
    return True


def main() -> None:
    from lerobot.scripts import lerobot_train

    from act_tool.train.fused_adamw import choose_adamw_kernel

    factory = lerobot_train.make_train_eval_datasets
    policy_factory = lerobot_train.make_policy
    optimizer_factory = lerobot_train.make_optimizer_and_scheduler
    state_loader = lerobot_train.load_training_state

    def make_policy(cfg, *args, **kwargs):
        policy = policy_factory(cfg, *args, **kwargs)
        wanted = os.environ.get("ACT_TOOL_CHANNELS_LAST", "bf16")
        if (wanted == "1" or (wanted == "bf16" and getattr(cfg, "use_amp", False))) and (
            images_channels_last(policy)
        ):
            print("act-tool: the backbone's images in channels-last order", flush=True)
        return policy

    def make_optimizer_and_scheduler(*args, **kwargs):
        optimizer, scheduler = optimizer_factory(*args, **kwargs)
        if choose_adamw_kernel(optimizer):
            print("act-tool: AdamW on PyTorch's fused CPU kernel", flush=True)
        return optimizer, scheduler

    def load_training_state(*args, **kwargs):
        step, optimizer, scheduler = state_loader(*args, **kwargs)
        choose_adamw_kernel(optimizer)  # loading put back the checkpoint's own settings
        return step, optimizer, scheduler

    def make_train_eval_datasets(cfg):
        dataset, eval_dataset = factory(cfg)
        return serve_from_memory(dataset), eval_dataset

    lerobot_train.make_train_eval_datasets = make_train_eval_datasets
    lerobot_train.make_policy = make_policy
    lerobot_train.make_optimizer_and_scheduler = make_optimizer_and_scheduler
    lerobot_train.load_training_state = load_training_state
    lerobot_train.main()


if __name__ == "__main__":
    main()
