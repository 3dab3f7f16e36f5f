"""A ResNet18 backbone taught in the twin, for ACT where ImageNet weights cannot be downloaded.

LeRobot's ACT builds torchvision's ResNet18 with `FrozenBatchNorm2d` and expects ImageNet
weights: from random weights every frozen batch norm is the identity and the backbone trains as
an unnormalized 18-layer network, which learns slowly. Here the same ResNet18, with ordinary
batch norm, learns to regress the twin's ground truth (`act_tool.sim.vision_frames`) from both
cameras; its weights and batch-norm statistics then become the frozen backbone's weights and
buffers, so LeRobot's ACT computes exactly the features trained here.

The heads read layer4's whole feature map (a 1x1 convolution, then flattened), not a pooled
vector: ACT consumes that map token by token with its positions, so where things are must
survive in it. Images are normalized with ImageNet's statistics, as LeRobot's training does for
cameras by default (`dataset.use_imagenet_stats`).

The file (`backbone.safetensors`) holds the ResNet18 state dict without the classifier, and in
its metadata the format, the image size it was trained at and the validation errors.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from act_tool.sim.vision_frames import CUBE_POSITION, TARGETS, VisionFrames
from act_tool.train.errors import TrainError

FORMAT = "act-tool-twin-backbone"
FORMAT_VERSION = 1
ARCH = "resnet18"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PretrainConfig:
    steps: int = 1500
    batch_size: int = 32  # frames per camera per step
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    bf16: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2:
            raise TrainError("backbone pretraining needs steps >= 1 and batch size >= 2")
        if not self.lr > 0:
            raise TrainError("the learning rate must be positive")


@dataclass(frozen=True)
class PretrainResult:
    path: Path
    steps: int
    seconds: float
    first_loss: float  # the first steps' mean, on standardized targets
    train_loss: float  # the last steps' mean
    val_cube_error_m: dict[str, float]  # camera -> median error of the cube's position, m
    val_cube_error_baseline_m: float  # predicting the training mean


def resnet18(batch_norm: bool = True) -> nn.Module:
    """torchvision's ResNet18, random weights; layer4's map is `forward`'s output."""
    import torchvision
    from torchvision.models._utils import IntermediateLayerGetter

    norm = nn.BatchNorm2d if batch_norm else torchvision.ops.misc.FrozenBatchNorm2d
    model = torchvision.models.resnet18(weights=None, norm_layer=norm)
    return IntermediateLayerGetter(model, return_layers={"layer4": "feature_map"})


class _Head(nn.Module):
    def __init__(self, feature_hw: tuple[int, int], outputs: int) -> None:
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(512, 64, 1), nn.ReLU())
        self.mlp = nn.Sequential(
            nn.Linear(64 * feature_hw[0] * feature_hw[1], 256), nn.ReLU(), nn.Linear(256, outputs)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.reduce(x).flatten(1))


class VisionNet(nn.Module):
    """One backbone for every camera (as ACT shares it), one head per camera."""

    def __init__(self, cameras: tuple[str, ...], height: int, width: int) -> None:
        super().__init__()
        self.backbone = resnet18()
        hw = (math.ceil(height / 32), math.ceil(width / 32))
        self.heads = nn.ModuleDict({cam: _Head(hw, len(TARGETS)) for cam in cameras})
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, cam: str, images_uint8: torch.Tensor) -> torch.Tensor:
        x = images_uint8.permute(0, 3, 1, 2).float().div_(255.0)
        x = (x - self.mean) / self.std
        return self.heads[cam](self.backbone(x)["feature_map"])


def _batches(n: int, size: int, rng: np.random.Generator):
    while True:
        order = rng.permutation(n)
        for i in range(0, n - size + 1, size):
            yield order[i : i + size]


def pretrain_backbone(
    train: VisionFrames,
    val: VisionFrames,
    cfg: PretrainConfig,
    output: Path,
    log: Callable[[str], None] = print,
) -> PretrainResult:
    """Trains VisionNet on `train`, measures it on `val`, writes the backbone to `output`."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.bf16:
        from act_tool.train.cpu_features import require_bf16

        require_bf16()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    cameras = tuple(train.images)
    n, height, width, _ = next(iter(train.images.values())).shape
    if n < cfg.batch_size:
        raise TrainError(f"{n} training frames is fewer than one batch of {cfg.batch_size}")
    mean = train.targets.mean(axis=0)
    std = train.targets.std(axis=0) + 1e-3
    targets = torch.from_numpy((train.targets - mean) / std)
    images = {cam: torch.from_numpy(a) for cam, a in train.images.items()}
    net = VisionNet(cameras, height, width).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    losses: list[float] = []
    t0 = time.perf_counter()
    net.train()
    for step, idx in zip(range(1, cfg.steps + 1), _batches(n, cfg.batch_size, rng), strict=False):
        index = torch.from_numpy(idx)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            loss = sum(
                nn.functional.smooth_l1_loss(net(cam, images[cam][index]).float(), targets[index])
                for cam in cameras
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()) / len(cameras))
        if step % 100 == 0 or step == cfg.steps:
            log(f"backbone step {step}/{cfg.steps}: loss {np.mean(losses[-100:]):.4f} "
                f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
    seconds = time.perf_counter() - t0
    errors = _cube_errors(net, val, mean, std)
    baseline = float(
        np.median(np.linalg.norm(val.targets[:, CUBE_POSITION] - mean[CUBE_POSITION], axis=1))
    )
    window = max(1, min(100, len(losses) // 4))
    result = PretrainResult(
        output, cfg.steps, seconds, float(np.mean(losses[:window])),
        float(np.mean(losses[-window:])), errors, baseline,
    )  # fmt: skip
    save_backbone(output, net.backbone, height, width, result)
    return result


@torch.no_grad()
def _cube_errors(net: VisionNet, val: VisionFrames, mean, std) -> dict[str, float]:
    net.eval()
    out = {}
    for cam, frames in val.images.items():
        preds = [
            net(cam, torch.from_numpy(frames[i : i + 64])).numpy()
            for i in range(0, len(frames), 64)
        ]
        pred = np.concatenate(preds) * std + mean
        err = np.linalg.norm(pred[:, CUBE_POSITION] - val.targets[:, CUBE_POSITION], axis=1)
        out[cam] = float(np.median(err))
    return out


def save_backbone(
    path: Path, backbone: nn.Module, height: int, width: int, result: PretrainResult
) -> None:
    """The backbone's weights and batch-norm statistics, as FrozenBatchNorm2d names them."""
    from safetensors.torch import save_file

    state = {
        k: v.detach().contiguous().clone()
        for k, v in backbone.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": ARCH,
        "height": height,
        "width": width,
        "normalization": "imagenet",
        "result": {k: v for k, v in asdict(result).items() if k != "path"},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + f".part{os.getpid()}")
    try:
        save_file(state, str(part), metadata={"act_tool": json.dumps(meta)})
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def load_backbone(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The backbone's state dict and metadata; TrainError unless it is one of ours."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path).expanduser()
    if not path.is_file():
        raise TrainError(f"backbone {path}: no such file (make one with act-tool backbone)")
    try:
        with safe_open(str(path), "pt") as f:
            meta = json.loads((f.metadata() or {}).get("act_tool", "{}"))
        state = load_file(str(path))
    except Exception as e:  # safetensors raises its own and OS errors
        raise TrainError(f"backbone {path} cannot be read as safetensors: {e}") from e
    if meta.get("format") != FORMAT or meta.get("arch") != ARCH:
        raise TrainError(
            f"backbone {path} is not an act-tool twin backbone (format {meta.get('format')!r}, "
            f"architecture {meta.get('arch')!r}); make one with act-tool backbone"
        )
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise TrainError(f"backbone {path} was written by a newer act-tool; upgrade act-tool")
    return state, meta


def install_backbone(policy, path: Path, image_shapes: dict[str, tuple[int, int]]) -> dict:
    """Copies the backbone file into LeRobot ACT `policy`'s frozen backbone; returns metadata.

    Refuses a file whose architecture or training image size differs from the policy's."""
    state, meta = load_backbone(path)
    cfg = policy.config
    if cfg.vision_backbone != ARCH or cfg.replace_final_stride_with_dilation:
        raise TrainError(
            f"backbone {path} is a plain {ARCH}; the policy uses {cfg.vision_backbone}"
            + (" with a dilated last stage" if cfg.replace_final_stride_with_dilation else "")
        )
    trained = (meta["height"], meta["width"])
    for cam, shape in image_shapes.items():
        if tuple(shape) != trained:
            raise TrainError(
                f"backbone {path} was trained on {trained[0]}x{trained[1]} images; camera {cam} "
                f"gives {shape[0]}x{shape[1]}: pretrain one at that size (act-tool backbone "
                f"--height {shape[0]} --width {shape[1]})"
            )
    target = policy.model.backbone
    own = target.state_dict()
    if sorted(own) != sorted(state):
        missing = sorted(set(own) - set(state))[:3]
        extra = sorted(set(state) - set(own))[:3]
        raise TrainError(
            f"backbone {path} does not fit the policy: missing {missing}, extra {extra}"
        )
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise TrainError(f"backbone {path}: {key} is {tuple(value.shape)}, the policy's "
                             f"{tuple(own[key].shape)}")  # fmt: skip
    target.load_state_dict(state)
    return meta


def make_twin_backbone(
    output: Path,
    train_seeds,
    val_seeds,
    height: int,
    width: int,
    cfg: PretrainConfig,
    log: Callable[[str], None] = print,
) -> PretrainResult:
    """Renders the twin's frames for `train_seeds` and `val_seeds`, then pretrains (above)."""
    from act_tool.sim.errors import SimError
    from act_tool.sim.vision_frames import VisionFramesConfig, render_vision_frames

    if output.suffix != ".safetensors":
        raise TrainError(f"--output {output}: a backbone file ends in .safetensors")
    if cfg.bf16:
        from act_tool.train.cpu_features import require_bf16

        require_bf16()  # before minutes of rendering
    t0 = time.perf_counter()
    try:
        train_cfg = VisionFramesConfig(seeds=list(train_seeds), height=height, width=width)
        val_cfg = VisionFramesConfig(seeds=list(val_seeds), height=height, width=width)
    except SimError as e:
        raise TrainError(str(e)) from e
    train = render_vision_frames(train_cfg)
    val = render_vision_frames(val_cfg)
    log(f"rendered {len(train.targets)} training and {len(val.targets)} validation frames per "
        f"camera in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    return pretrain_backbone(train, val, cfg, output, log)
