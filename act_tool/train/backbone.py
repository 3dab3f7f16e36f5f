"""The ImageNet ResNet18 weights ACT starts from, without a download.

torchvision loads `ResNet18_Weights.IMAGENET1K_V1` from `$TORCH_HOME/hub/checkpoints/
resnet18-f37072fd.pth` when the file is there, and downloads it otherwise. On a machine without
network the file must already be in that cache, be given with `--backbone-weights` (it is linked
into a private TORCH_HOME for the training process), or training must start from random weights
(`--no-pretrained-backbone`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from act_tool.train.errors import TrainError

RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
RESNET18_FILE = "resnet18-f37072fd.pth"
RESNET18_SHA256_PREFIX = "f37072fd"  # torch.hub file names carry the sha256's first 8 digits


def torch_home(env: dict[str, str] | None = None) -> Path:
    """torch.hub's home, computed as torch does (TORCH_HOME, else $XDG_CACHE_HOME/torch)."""
    env = dict(os.environ) if env is None else env
    if env.get("TORCH_HOME"):
        return Path(env["TORCH_HOME"]).expanduser()
    cache = env.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(cache).expanduser() / "torch"


def cached_weights(env: dict[str, str] | None = None) -> Path:
    return torch_home(env) / "hub" / "checkpoints" / RESNET18_FILE


@dataclass(frozen=True)
class BackbonePlan:
    """How the training process gets its backbone: `torch_home` None means the inherited one."""

    pretrained: bool
    torch_home: Path | None
    note: str


def check_weights_file(path: Path) -> None:
    if not path.is_file():
        raise TrainError(f"--backbone-weights {path}: no such file")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if not digest.hexdigest().startswith(RESNET18_SHA256_PREFIX):
        raise TrainError(
            f"--backbone-weights {path} is not torchvision's ResNet18 ImageNet file "
            f"({RESNET18_FILE}, sha256 {RESNET18_SHA256_PREFIX}...); download it from "
            f"{RESNET18_URL}"
        )


def download_weights(target: Path, url: str = RESNET18_URL, timeout_s: float = 30.0) -> None:
    """Fetch the weights into torch.hub's cache (temporary name, checked, then renamed)."""
    import urllib.request

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + f".part{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, part.open("wb") as f:
            shutil.copyfileobj(response, f)
        try:
            check_weights_file(part)
        except TrainError as e:
            raise TrainError(f"{url} did not give torchvision's ResNet18 ImageNet file") from e
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def plan_backbone(
    pretrained: bool,
    weights: Path | None,
    private_home: Path,
    env: dict[str, str] | None = None,
    download: bool = True,
    url: str = RESNET18_URL,
) -> BackbonePlan:
    """Decide where the ResNet18 weights come from; link `weights` under `private_home`."""
    if not pretrained:
        if weights is not None:
            raise TrainError(
                "--backbone-weights and --no-pretrained-backbone contradict each other"
            )
        return BackbonePlan(False, None, "backbone: random weights (--no-pretrained-backbone)")
    if weights is not None:
        weights = weights.expanduser().resolve()
        check_weights_file(weights)
        target = private_home / "hub" / "checkpoints" / RESNET18_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            try:
                target.symlink_to(weights)
            except OSError:  # no symlinks (some Windows setups): copy instead
                shutil.copyfile(weights, target)
        return BackbonePlan(True, private_home, f"backbone: ImageNet ResNet18 from {weights}")
    cached = cached_weights(env)
    if cached.is_file():
        return BackbonePlan(True, None, f"backbone: ImageNet ResNet18 from {cached}")
    reason = "offline (HF_HUB_OFFLINE)"
    if download:
        try:
            download_weights(cached, url)
            return BackbonePlan(True, None, f"backbone: ImageNet ResNet18 downloaded to {cached}")
        except (OSError, TrainError) as e:  # URLError and timeouts are OSErrors
            reason = f"download failed: {e}"
    raise TrainError(
        "ACT starts from torchvision's ImageNet ResNet18 weights, which are not in the local "
        f"cache ({cached}) and could not be downloaded ({reason}). Either download "
        f"{RESNET18_URL} on a connected machine and pass --backbone-weights PATH (or copy it to "
        f"{cached}), or train from random backbone weights with --no-pretrained-backbone "
        "(slower to learn)."
    )
