"""The in-memory frame source gives exactly LeRobot's items."""

from __future__ import annotations

import pytest

pytest.importorskip("lerobot")

import torch  # noqa: E402

from act_tool.train.command import TrainOptions, settings  # noqa: E402
from act_tool.train.frame_source import in_memory_frames  # noqa: E402
from act_tool.train.frozen_loop import parse_train_config  # noqa: E402

from .conftest import TINY_POLICY  # noqa: E402


def _dataset(root, tmp_path, extra=()):
    from lerobot.datasets.factory import make_dataset

    options = TrainOptions(output=tmp_path / "run", dataset_repo_id="local/s", dataset_root=root,
                           device="cpu", pretrained_backbone=False,
                           extra=(*TINY_POLICY, *extra))  # fmt: skip
    return make_dataset(parse_train_config(settings(options)))


def test_every_item_is_lerobots(synth_dataset, tmp_path):
    dataset = _dataset(synth_dataset, tmp_path)
    frames = in_memory_frames(dataset)
    assert frames is not None and len(frames) == len(dataset) == 40
    for i in range(len(dataset)):  # every frame: episode starts and ends, padded chunks
        want, got = dataset[i], frames[i]
        assert sorted(got) == sorted(want)
        for key, value in want.items():
            if isinstance(value, torch.Tensor):
                assert got[key].dtype == value.dtype and torch.equal(got[key], value), (i, key)
            else:
                assert got[key] == value, (i, key)
    assert frames[19]["action_is_pad"].sum() == 4  # the chunk of 5 runs off the episode's end


def test_transforms_keep_lerobots_loader(synth_dataset, tmp_path):
    dataset = _dataset(synth_dataset, tmp_path, ("--dataset.image_transforms.enable=true",))
    assert in_memory_frames(dataset) is None
