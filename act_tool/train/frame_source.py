"""A LeRobot image dataset's items from arrays decoded once, for datasets that fit in memory.

`LeRobotDataset[i]` decodes frame i's images, and for the action chunk it reads the chunk's rows
through a column view that formats whole rows, so every item decodes its images again for each
step of the chunk (about 13 ms per item for two 96x128 cameras and a chunk of 20). Here every
image is decoded once, column by column, and an item is assembled from those arrays with the
same values LeRobot gives: images as float32 CHW in [0, 1] (`to_tensor`'s uint8 / 255), the
state, the action chunk with LeRobot's clamping to the episode and its `action_is_pad`, and the
index columns. Written by hand because LeRobot has no in-memory source; tests compare it item
by item with `LeRobotDataset`.

Only image datasets without transforms or episode selection qualify (`in_memory_frames` says
None otherwise and the caller keeps LeRobot's own dataset).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

ROW_BLOCK = 2000  # rows decoded per call (bounds the temporary arrays)


class InMemoryFrames(torch.utils.data.Dataset):
    def __init__(self, dataset, log: Callable[[str], None] = lambda _: None) -> None:
        hf = dataset.hf_dataset
        n = len(hf)
        cameras = list(dataset.meta.camera_keys)
        self.images = {cam: np.empty((n, *dataset.meta.shapes[cam]), np.uint8) for cam in cameras}
        for cam in cameras:
            column = hf.select_columns([cam]).with_format("numpy")
            for start in range(0, n, ROW_BLOCK):
                self.images[cam][start : start + ROW_BLOCK] = column[start : start + ROW_BLOCK][cam]
        plain = [c for c in hf.column_names if c not in cameras]
        table = hf.select_columns(plain).with_format("numpy")[:]
        self.columns = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in table.items()}
        self.deltas = dict(_delta_indices(dataset))
        episodes = dataset.meta.episodes
        self.bounds = {
            int(e): (int(lo), int(hi))
            for e, lo, hi in zip(
                episodes["episode_index"],
                episodes["dataset_from_index"],
                episodes["dataset_to_index"],
                strict=True,
            )
        }
        self.tasks = {int(i): task for task, i in zip(dataset.meta.tasks.index,
                                                      dataset.meta.tasks["task_index"], strict=True)}  # fmt: skip
        log(f"frames: {n} decoded into memory")

    def __len__(self) -> int:
        return len(self.columns["index"])

    def __getitem__(self, i: int) -> dict:
        item = {k: v[i] for k, v in self.columns.items()}
        for cam, images in self.images.items():
            item[cam] = torch.from_numpy(images[i]).permute(2, 0, 1).contiguous().float().div(255)
        abs_idx = int(item["index"])
        lo, hi = self.bounds[int(item["episode_index"])]
        for key, deltas in self.deltas.items():
            rows = [max(lo, min(hi - 1, abs_idx + d)) for d in deltas]
            item[key] = self.columns[key][rows]
            item[f"{key}_is_pad"] = torch.BoolTensor([not lo <= abs_idx + d < hi for d in deltas])
        item["task"] = self.tasks[int(item["task_index"])]
        return item


def in_memory_frames(dataset, log: Callable[[str], None] = lambda _: None) -> InMemoryFrames | None:
    """The dataset held in memory, or None where LeRobot's own loader must serve it (videos,
    image transforms, a subset of episodes, keys other than images and plain columns)."""
    meta = dataset.meta
    if meta.video_keys or getattr(dataset, "image_transforms", None) is not None:
        return None
    if (
        getattr(dataset, "episodes", None) is not None
        or len(dataset.hf_dataset) != meta.total_frames
    ):
        return None
    if any(k not in dataset.hf_dataset.column_names for k in _delta_indices(dataset)):
        return None
    return InMemoryFrames(dataset, log)


def _delta_indices(dataset) -> dict[str, list[int]]:
    """Frame offsets per key, as LeRobot's reader computes them from `delta_timestamps`."""
    return dict(dataset._ensure_reader().delta_indices or {})
