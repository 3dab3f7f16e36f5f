"""Cameras without hardware for LeRobot robots: `type: act_tool` in --robot.cameras.

LeRobot's OpenCVCamera sets the configured width and height on its capture, which a video file
refuses, and a robot config requires them: this camera serves act-tool's synthetic frames
(moving shapes, act_tool.hw.camera_readers.SyntheticReader) or a video file's frames, resized
to the configured size, in LeRobot's color mode (RGB by default).
"""

from lerobot_camera_act_tool.act_tool_camera import ActToolCamera
from lerobot_camera_act_tool.config_act_tool_camera import ActToolCameraConfig

__all__ = ["ActToolCamera", "ActToolCameraConfig"]
