"""Fixtures of the twin's tests. Modules that need MuJoCo skip without the `sim` extra
(`pytest.importorskip("mujoco", reason=helpers.NO_SIM)`); rendering tests also need an offscreen OpenGL
library and skip, saying why, when it is missing."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def twin():
    from act_tool.sim.twin import Twin

    with Twin() as t:
        yield t


@pytest.fixture(scope="module")
def render_twin():
    """A twin whose renderer works on this machine (else the test skips, saying why)."""
    from act_tool.sim.errors import RenderError
    from act_tool.sim.twin import Twin

    t = Twin()
    try:
        t.render("front", np.empty((8, 8, 3), dtype=np.uint8))
    except RenderError as e:
        t.close()
        pytest.skip(f"no offscreen rendering here: {e}")
    yield t
    t.close()


from tests.runtime.conftest import tiny_onnx  # noqa: E402, F401  (run --port sim's policy)
