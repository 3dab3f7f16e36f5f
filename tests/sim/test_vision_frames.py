"""The twin's frames with their ground truth, for the backbone's pretraining."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.sim import helpers

pytest.importorskip("mujoco", reason=helpers.NO_SIM)

from act_tool.sim.errors import SimError  # noqa: E402
from act_tool.sim.layout import CellLayout  # noqa: E402
from act_tool.sim.vision_frames import (  # noqa: E402
    TARGETS,
    VisionFramesConfig,
    cube_yaw,
    render_vision_frames,
)


def test_frames_carry_the_layouts_ground_truth(render_twin):
    cfg = VisionFramesConfig(seeds=[3, 4], height=24, width=32, every=20)
    frames = render_vision_frames(cfg)
    n = len(frames.targets)
    assert frames.targets.shape == (n, len(TARGETS)) and n >= 2 * 10
    assert sorted(set(frames.seeds.tolist())) == [3, 4]
    for cam, images in frames.images.items():
        assert images.shape == (n, 24, 32, 3) and images.dtype == np.uint8
        assert images.std() > 5, f"{cam}: the frames are blank"
    first = frames.targets[0]
    layout = CellLayout.sample(int(frames.seeds[0]))
    # The first kept frame comes before the arm reaches the cube: it stands where it was laid.
    np.testing.assert_allclose(first[:2], layout.cube_xy, atol=1e-6)
    assert math.isclose(math.atan2(first[4], first[3]) / 4,
                        math.remainder(layout.cube_yaw, math.pi / 2), abs_tol=1e-4)  # fmt: skip
    np.testing.assert_allclose(first[5:7], layout.bowl_xy, atol=1e-6)
    np.testing.assert_allclose(first[10:13], first[0:3] - first[7:10], atol=1e-6)
    # The noise moves the arm off the expert's poses, differently per layout.
    again = render_vision_frames(VisionFramesConfig(seeds=[3, 4], height=24, width=32, every=20,
                                                    noise=0.0))  # fmt: skip
    assert np.abs(again.targets[:, 13:18] - frames.targets[:, 13:18]).max() > 0.02


def test_cube_yaw_reads_a_rotation_about_z():
    for yaw in (-1.2, 0.0, 0.3, 2.5):
        q = np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])
        assert math.isclose(cube_yaw(q), yaw, abs_tol=1e-12)


def test_bad_configs_say_what_is_wrong():
    with pytest.raises(SimError, match="at least one layout"):
        VisionFramesConfig(seeds=[])
    with pytest.raises(SimError, match="every"):
        VisionFramesConfig(seeds=[1], every=0)
