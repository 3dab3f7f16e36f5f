"""ACT's inference path as one torch module holding the whole numeric path (DESIGN.md contract).

In: one uint8 [1, H, W, 3] frame per camera (channel order from the spec) and the raw state
[1, S] in robot units. Out: `action` [1, chunk_size, A] in robot units.

Differences from LeRobot's `ACT.forward`, none of which changes a number beyond float rounding:
- no VAE encoder: the latent is zero, so its projection is exactly the projection's bias;
- all position embeddings, the latent token and the decoder's zero queries are precomputed
  constants;
- cameras run through the backbone as one batch (frozen batch norm: batch-independent) and their
  tokens are concatenated instead of stacked from a per-token list (a graph ~5x smaller);
- /255 and normalization fold into one multiply-add per image; a BGR input is handled by permuting
  the first convolution's input channels (and the per-channel constants) instead of a runtime op.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import Tensor, nn

from act_tool.errors import CheckpointError
from act_tool.policy.checkpoint import Checkpoint


def affine(mode: str, stats: dict[str, np.ndarray], eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) such that LeRobot's normalization is x * scale + shift."""
    if mode == "IDENTITY":
        return np.array(1.0), np.array(0.0)
    if mode == "MEAN_STD":
        denom = stats["std"] + eps
        return 1.0 / denom, -stats["mean"] / denom
    lo, hi = {"MIN_MAX": ("min", "max"), "QUANTILES": ("q01", "q99"), "QUANTILE10": ("q10", "q90")}[
        mode
    ]
    denom = stats[hi] - stats[lo]
    denom = np.where(denom == 0, eps, denom)
    return 2.0 / denom, -2.0 * stats[lo] / denom - 1.0


def inverse_affine(
    mode: str, stats: dict[str, np.ndarray], eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) such that LeRobot's unnormalization is y * scale + shift."""
    if mode == "IDENTITY":
        return np.array(1.0), np.array(0.0)
    if mode == "MEAN_STD":  # LeRobot's inverse uses std without eps
        return stats["std"], stats["mean"]
    lo, hi = {"MIN_MAX": ("min", "max"), "QUANTILES": ("q01", "q99"), "QUANTILE10": ("q10", "q90")}[
        mode
    ]
    denom = stats[hi] - stats[lo]
    denom = np.where(denom == 0, eps, denom)
    return denom / 2.0, denom / 2.0 + stats[lo]


def const(x: np.ndarray, shape: tuple[int, ...]) -> Tensor:
    return torch.as_tensor(np.broadcast_to(np.asarray(x, dtype=np.float64), shape).copy()).float()


class ACTInference(nn.Module):
    """Inference-only ACT. Build with `from_checkpoint`; call with (*camera_frames, state)."""

    def __init__(self, ckpt: Checkpoint, channel_order: str = "bgr") -> None:
        super().__init__()
        cfg = ckpt.config
        if cfg.env_state_feature is not None:
            raise CheckpointError(
                f"{ckpt.path}: policies with an environment-state input are not supported."
            )
        if channel_order not in ("bgr", "rgb"):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', not {channel_order!r}")
        model = copy.deepcopy(ckpt.policy.model).float().eval()
        self.camera_keys = list(cfg.image_features)
        self.has_state = cfg.robot_state_feature is not None
        self.channel_order = channel_order
        _, height, width = cfg.image_features[self.camera_keys[0]].shape
        for key in self.camera_keys:
            if tuple(cfg.image_features[key].shape) != (3, height, width):
                raise CheckpointError(
                    f"{ckpt.path}: all cameras must have one shape (LeRobot ACT)."
                )
        self.image_hw = (height, width)

        self.backbone = model.backbone
        self.image_proj = model.encoder_img_feat_input_proj
        self.state_proj = model.encoder_robot_state_input_proj if self.has_state else None
        self.encoder = model.encoder
        self.decoder = model.decoder
        self.action_head = model.action_head

        # Per-camera input affine (uint8 -> /255 -> normalized), shape [n_cam, 3, 1, 1].
        scales, shifts = [], []
        for key in self.camera_keys:
            s, t = affine(ckpt.norm_modes[key], ckpt.stats.get(key, {}), ckpt.eps)
            scales.append(const(s, (3, 1, 1)) / 255.0)
            shifts.append(const(t, (3, 1, 1)))
        scale, shift = torch.stack(scales), torch.stack(shifts)
        if channel_order == "bgr":
            # The graph sees BGR: permute the first conv's input channels and the constants.
            conv1 = self.backbone.conv1
            conv1.weight.data = conv1.weight.data.flip(1).contiguous()
            scale, shift = scale.flip(1), shift.flip(1)
        self.register_buffer("image_scale", scale.contiguous())
        self.register_buffer("image_shift", shift.contiguous())

        if self.has_state:
            s, t = affine(
                ckpt.norm_modes["observation.state"], ckpt.stats["observation.state"], ckpt.eps
            )
            n = cfg.robot_state_feature.shape[0]
            self.register_buffer("state_scale", const(s, (1, n)))
            self.register_buffer("state_shift", const(t, (1, n)))
        n_act = cfg.action_feature.shape[0]
        s, t = inverse_affine(ckpt.norm_modes["action"], ckpt.stats["action"], ckpt.eps)
        self.register_buffer("action_scale", const(s, (1, 1, n_act)))
        self.register_buffer("action_shift", const(t, (1, 1, n_act)))

        with torch.no_grad():
            # Zero latent: Linear(0) is exactly its bias.
            latent = model.encoder_latent_input_proj.bias.detach().reshape(1, 1, -1)
            probe = torch.zeros(1, 3, height, width)
            feature_map = self.backbone(probe)["feature_map"]
            cam_pos = model.encoder_cam_feat_pos_embed(feature_map)  # [1, D, h, w]
            cam_pos = cam_pos.flatten(2).permute(2, 0, 1)  # [h*w, 1, D]
            pos_1d = model.encoder_1d_feature_pos_embed.weight.unsqueeze(1)  # [n_1d, 1, D]
            pos = torch.cat([pos_1d] + [cam_pos] * len(self.camera_keys), dim=0)
            dec_pos = model.decoder_pos_embed.weight.unsqueeze(1)  # [chunk, 1, D]
        self.register_buffer("latent_token", latent.clone())
        self.register_buffer("encoder_pos", pos.clone())
        self.register_buffer("decoder_pos", dec_pos.clone())
        self.register_buffer("decoder_queries", torch.zeros_like(dec_pos))
        self.tokens_per_camera = cam_pos.shape[0]

    def forward(self, *inputs: Tensor) -> Tensor:
        frames = inputs[: len(self.camera_keys)]
        # Cast first: TensorRT allows uint8 only as an input to Cast.
        images = torch.cat([f.float().permute(0, 3, 1, 2) for f in frames], dim=0)
        images = images * self.image_scale + self.image_shift  # [n_cam, 3, H, W]
        features = self.image_proj(self.backbone(images)["feature_map"])  # [n_cam, D, h, w]
        cam_tokens = features.flatten(2).permute(0, 2, 1).reshape(-1, 1, features.shape[1])
        tokens = [self.latent_token]
        if self.has_state:
            state = inputs[len(self.camera_keys)] * self.state_scale + self.state_shift
            tokens.append(self.state_proj(state).unsqueeze(0))
        tokens.append(cam_tokens)
        encoder_out = self.encoder(torch.cat(tokens, dim=0), pos_embed=self.encoder_pos)
        decoder_out = self.decoder(
            self.decoder_queries,
            encoder_out,
            encoder_pos_embed=self.encoder_pos,
            decoder_pos_embed=self.decoder_pos,
        )
        actions = self.action_head(decoder_out.transpose(0, 1))  # [1, chunk, A]
        return actions * self.action_scale + self.action_shift

    def input_names(self) -> list[str]:
        return self.camera_keys + (["observation.state"] if self.has_state else [])


def example_inputs(module: ACTInference, ckpt: Checkpoint, seed: int = 0) -> tuple[Tensor, ...]:
    """Random uint8 frames and a state drawn around the dataset statistics."""
    gen = torch.Generator().manual_seed(seed)
    h, w = module.image_hw
    frames = [
        torch.randint(0, 256, (1, h, w, 3), dtype=torch.uint8, generator=gen)
        for _ in module.camera_keys
    ]
    if not module.has_state:
        return tuple(frames)
    n = ckpt.config.robot_state_feature.shape[0]
    return (*frames, torch.randn(1, n, generator=gen) * 20.0)
