"""Offscreen rendering of the twin's cameras into caller-owned frames.

One OpenGL context and one MuJoCo render context per twin, made on first use; frames of any
size up to the model's offscreen buffer come from one framebuffer through a viewport, read back
into a buffer kept per size, then flipped (OpenGL's rows run bottom-up) and put in the caller's
channel order straight into the caller's array: after the first frame of a size no frame
buffer is allocated. The OpenGL context is made current on each call; an EGL context can be
current in one thread only, so render from one thread (the one that drives the twin).

The OpenGL platform is `MUJOCO_GL` when set (egl, osmesa, glfw); otherwise EGL where libEGL is
installed (headless, GPU or Mesa's llvmpipe), else OSMesa. It must be chosen before PyOpenGL is
first imported in the process, so set `MUJOCO_GL` before importing anything that renders.
"""

from __future__ import annotations

import ctypes.util
import os
import weakref

import numpy as np

from act_tool.errors import MissingDependencyError
from act_tool.sim.errors import RenderError

INSTALL_HINT = (
    "install EGL (Debian/Ubuntu: sudo apt-get install libegl1 libgl1-mesa-dri) or OSMesa "
    "(sudo apt-get install libosmesa6; used where EGL is missing, or with MUJOCO_GL=osmesa)"
)
_LIBRARIES = {"egl": "EGL", "osmesa": "OSMesa"}


def import_mujoco():
    """`import mujoco`, with errors that say what to install. MuJoCo loads the OpenGL platform
    named by `MUJOCO_GL` at import, so a missing library fails there already."""
    try:
        import mujoco
    except ModuleNotFoundError as e:
        if e.name != "mujoco":
            raise
        raise MissingDependencyError("mujoco", "sim", "The digital twin") from e
    except (ImportError, AttributeError, OSError) as e:
        platform = os.environ.get("MUJOCO_GL", "")
        raise RenderError(
            f"MuJoCo cannot load OpenGL platform MUJOCO_GL={platform} ({e!r}): {INSTALL_HINT}"
        ) from e
    return mujoco


def gl_platform() -> str:
    """The OpenGL platform to render with: `MUJOCO_GL`, else the first installed of EGL, OSMesa."""
    chosen = os.environ.get("MUJOCO_GL", "").strip().lower()
    if chosen:
        return chosen
    for name, library in _LIBRARIES.items():
        if ctypes.util.find_library(library):
            return name
    raise RenderError(
        f"no offscreen OpenGL library found (neither libEGL nor libOSMesa): {INSTALL_HINT}"
    )


def _context_class(platform: str):
    try:
        if platform == "egl":
            from mujoco.egl import GLContext
        elif platform == "osmesa":
            from mujoco.osmesa import GLContext
        elif platform == "glfw":
            from mujoco.glfw import GLContext
        else:
            raise RenderError(f"MUJOCO_GL={platform} is not supported here: use egl or osmesa")
    except (ImportError, OSError, AttributeError) as e:
        raise RenderError(f"cannot load OpenGL platform '{platform}' ({e}): {INSTALL_HINT}") from e
    return GLContext


def _free(gl, context) -> None:
    context.free()
    gl.free()


class FrameRenderer:
    """Renders a model's fixed cameras; `render` fills a caller-owned (H, W, 3) uint8 frame."""

    def __init__(self, model, max_height: int, max_width: int) -> None:
        import cv2
        import mujoco

        self._cv2 = cv2
        self._mujoco = mujoco
        self._model = model
        self.max_height, self.max_width = max_height, max_width
        platform = gl_platform()
        try:
            self._gl = _context_class(platform)(max_width, max_height)
            self._gl.make_current()
            self._context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_50)
        except RenderError:
            raise
        except Exception as e:  # a missing driver shows up as one of many error types
            raise RenderError(f"cannot start {platform} rendering ({e}): {INSTALL_HINT}") from e
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        self._finalizer = weakref.finalize(self, _free, self._gl, self._context)
        self._scene = mujoco.MjvScene(model, maxgeom=256)
        for flag in ("mjRND_SHADOW", "mjRND_REFLECTION", "mjRND_SKYBOX", "mjRND_FOG"):
            self._scene.flags[getattr(mujoco.mjtRndFlag, flag)] = 0
        self._option = mujoco.MjvOption()
        self._perturb = mujoco.MjvPerturb()
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._viewport = mujoco.MjrRect(0, 0, max_width, max_height)
        self._readback: dict[tuple[int, int], np.ndarray] = {}

    def render(self, data, camera_id: int, out: np.ndarray, rgb: bool = False) -> np.ndarray:
        """Draws camera `camera_id` of `data` into `out` (BGR, or RGB with `rgb=True`)."""
        h, w = self._check(out)
        mujoco = self._mujoco
        self._gl.make_current()
        self._camera.fixedcamid = camera_id
        mujoco.mjv_updateScene(
            self._model,
            data,
            self._option,
            self._perturb,
            self._camera,
            mujoco.mjtCatBit.mjCAT_ALL,
            self._scene,
        )
        self._viewport.width, self._viewport.height = w, h
        mujoco.mjr_render(self._viewport, self._scene, self._context)
        buffers = self._readback.get((h, w))
        if buffers is None:
            buffers = self._readback[(h, w)] = np.empty((2, h, w, 3), dtype=np.uint8)
        pixels, swapped = buffers
        mujoco.mjr_readPixels(pixels, None, self._viewport, self._context)
        if not rgb:  # OpenCV's own loops: a numpy channel-reversing copy is 20x slower
            self._cv2.cvtColor(pixels, self._cv2.COLOR_RGB2BGR, dst=swapped)
            pixels = swapped
        self._cv2.flip(pixels, 0, dst=out)
        return out

    def _check(self, out: np.ndarray) -> tuple[int, int]:
        if out.dtype != np.uint8 or out.ndim != 3 or out.shape[2] != 3:
            raise RenderError(f"frames must be uint8 (H, W, 3), got {out.dtype} {out.shape}")
        if not out.flags.c_contiguous:
            raise RenderError("frames must be C-contiguous arrays (np.empty((H, W, 3), np.uint8))")
        h, w = out.shape[:2]
        if not (0 < h <= self.max_height and 0 < w <= self.max_width):
            raise RenderError(
                f"a {h}x{w} frame exceeds the twin's offscreen buffer of "
                f"{self.max_height}x{self.max_width}: create the twin with "
                f"TwinConfig(max_height={max(h, self.max_height)}, max_width={max(w, self.max_width)})"
            )
        return h, w

    def close(self) -> None:
        """Frees the OpenGL resources (also done when the renderer is garbage-collected)."""
        self._finalizer()
