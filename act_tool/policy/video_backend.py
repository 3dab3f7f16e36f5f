"""The video decoder LeRobot should use here, chosen quietly.

LeRobot prefers torchcodec; where FFmpeg's shared libraries are missing, torchcodec fails to load
and LeRobot logs every failed attempt (a page of tracebacks) before falling back to PyAV. Asking
first and naming the decoder keeps a user's terminal readable; the decoded frames are the same.
"""

from __future__ import annotations

import importlib
import importlib.util


def video_backend() -> str:
    """'torchcodec' where it loads, else 'pyav' (which LeRobot would fall back to)."""
    if importlib.util.find_spec("torchcodec") is None:
        return "pyav"
    try:
        importlib.import_module("torchcodec")
    except (ImportError, OSError, RuntimeError):
        return "pyav"
    return "torchcodec"
