"""scripts/docs_pictures.py's frame strip, on frames made here (the real pictures come from an
episode of the shipped policy, too slow for the suite)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "docs_pictures.py"


def _module():
    spec = importlib.util.spec_from_file_location("docs_pictures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_strip_marks_each_grasp_attempt():
    pictures = _module()
    h, w = pictures.BIG
    frames = {t: np.full((h, w, 3), 100, np.uint8) for t in range(0, 361, pictures.EVERY)}
    episode = {"grasp_ticks": [85, 200], "steps_to_success": None, "success": False}
    strip = pictures._strip(frames, episode, 30.0, "seed 1006: failure")
    orange = np.all(strip == (0, 140, 255), axis=-1)  # BGR of the attempt's frame
    assert orange.any()
    rows = (strip.shape[0] - 30 + 4) // (h + 4)
    assert rows == 2 and strip.shape[1] == 4 * w + 3 * 4  # four frames a row
