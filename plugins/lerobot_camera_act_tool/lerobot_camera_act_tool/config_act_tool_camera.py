from __future__ import annotations

from dataclasses import dataclass

from lerobot.cameras.configs import CameraConfig, ColorMode


@CameraConfig.register_subclass("act_tool")
@dataclass(kw_only=True)
class ActToolCameraConfig(CameraConfig):
    """`source`: "synthetic" (seeded moving shapes) or a video file's path (looped)."""

    source: str = "synthetic"
    seed: int = 0
    color_mode: ColorMode = ColorMode.RGB

    def __post_init__(self) -> None:
        self.color_mode = ColorMode(self.color_mode)
        for name in ("width", "height", "fps"):
            value = getattr(self, name)
            if value is None or value <= 0:
                raise ValueError(f"act_tool camera: `{name}` must be set to a positive number")
