"""LeRobot's own policy as an evaluation job: parallel jobs give torch its share of the cores
(two processes each with torch's default threads oversubscribed two cores: 17 s of wall time per
12 s episode measured, against about 2 s alone)."""

from __future__ import annotations

import os

import pytest

from act_tool.eval import jobs
from act_tool.eval.evaluate import EvalOptions


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_lerobot_jobs_take_their_share_of_the_cores(
    eval_onnx, tiny_checkpoint, monkeypatch, n_jobs
):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(4)), raising=False)
    options = EvalOptions(target=eval_onnx, episodes=2, checkpoint=tiny_checkpoint, jobs=n_jobs)
    before = torch.get_num_threads()
    expected = None if n_jobs == 1 else 4 // n_jobs  # one job: torch's own default
    try:
        runner = jobs._open(jobs.Job(options, jobs.LEROBOT_LABEL, [1000]))
        assert runner.backend == "lerobot" and runner.threads == expected
        with runner:
            assert torch.get_num_threads() == (before if expected is None else expected)
    finally:
        torch.set_num_threads(before)
