"""`act-tool eval --sim`: a tiny policy's episodes through the whole stack, every CPU backend and
LeRobot's own policy on the same seeds, the JSON, videos, parallel jobs, and the usage errors
caught before anything runs. (The tiny policy is untrained: these check the machinery, and
--force lets it start from the twin's home pose, which its made-up statistics do not cover.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.errors import ActToolError
from act_tool.eval.evaluate import EvalOptions, evaluate
from act_tool.runtime.loop_config import LoopConfig


def options(target: Path, **kw) -> EvalOptions:
    base = dict(episodes=2, episode_time_s=1.0, loop=LoopConfig(force=True, warmup=1))
    base.update(kw)
    return EvalOptions(target, **base)


def test_cli_eval_with_lerobot_beside_the_onnx_artifact(eval_onnx, tmp_path):
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app,
        ["eval", str(eval_onnx), "--sim", "--episodes", "2", "--episode-time", "1", "--force"]
        + ["--compare", "lerobot", "--json", str(out), "--video", str(tmp_path / "videos")],
    )
    assert result.exit_code == 0, result.output
    assert "episode success" in result.output and "lerobot eager" in result.output
    data = json.loads(out.read_text())
    assert data["seeds"] == [1000, 1001]
    names = [b["backend"] for b in data["backends"]]
    assert names == ["onnxruntime fp32", "lerobot eager"]
    for backend in data["backends"]:
        assert backend["episodes"] == 2 and backend["success"]["judged"] == 2
        assert set(backend["success"]) == {"count", "judged", "rate", "ci95"}
        lo, hi = backend["success"]["ci95"]
        assert 0 <= lo <= hi <= 1
        for episode in backend["per_episode"]:
            assert episode["ticks"] == 30  # 1 s at the spec's 30 Hz, on the twin's clock
            assert {"success", "grasp_attempts", "successful_grasps", "steps_to_success",
                    "openings_before_grasps", "wall_s"} <= set(episode)  # fmt: skip
    # the closed-loop parity: one entry per seed, LeRobot and the FP32 artifact on it
    assert [d["seed"] for d in data["divergence_from_lerobot"]] == [1000, 1001]
    videos = sorted(p.name for p in (tmp_path / "videos").iterdir())
    assert videos == [
        "lerobot_eager_seed1000.mp4",
        "lerobot_eager_seed1001.mp4",
        "onnxruntime_fp32_seed1000.mp4",
        "onnxruntime_fp32_seed1001.mp4",
    ]


def test_the_pytorch_runner_on_the_checkpoint(tiny_checkpoint):
    """The issue's two short episodes on each CPU backend: PyTorch's (ONNX Runtime's above)."""
    pytest.importorskip("mujoco")
    report = evaluate(options(tiny_checkpoint), log=lambda _m: None)
    (summary,) = report.summaries
    assert summary.name == "torch fp32"
    assert [e.seed for e in summary.episodes] == [1000, 1001]
    assert all(e.ticks == 30 and e.success is not None for e in summary.episodes)


def test_a_seed_runs_the_same_twice_and_jobs_split_the_seeds_alike(eval_onnx):
    one = evaluate(options(eval_onnx, episodes=2), log=lambda _m: None).summaries[0].episodes
    two = evaluate(options(eval_onnx, episodes=2, jobs=2), log=lambda _m: None)
    for a, b in zip(one, two.summaries[0].episodes, strict=True):
        assert a.seed == b.seed
        assert a.trajectory == b.trajectory  # lockstep: the machine's speed changes nothing


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(episodes=0), "--episodes must be at least 1"),
        (dict(episode_time_s=-1.0), "--episode-time must be positive"),
        (dict(loop=LoopConfig(asynchronous=True)), "lockstep clock"),
        (dict(compare=("lerobot",), checkpoint=Path("/nonexistent/ckpt")), "--checkpoint"),
        (dict(json_path=Path("/proc/no/such/dir/eval.json")), "--json: cannot write"),
        (dict(video_dir=Path("/proc/no/such/dir/videos")), "--video: cannot write"),
        (dict(cameras="front=sim,handeye=sim:side"), "twin has front, handeye"),
        (dict(cameras="wrist=sim,front=sim"), "cameras are front, handeye"),
    ],
)
def test_usage_errors_before_anything_runs(eval_onnx, changes, message):
    ran: list[str] = []
    with pytest.raises(ActToolError, match=message):
        evaluate(options(eval_onnx, **changes), log=ran.append)
    assert not any("evaluating" in line for line in ran[1:])


def test_eval_needs_sim(eval_onnx):
    result = CliRunner().invoke(app, ["eval", str(eval_onnx), "--episodes", "1"])
    assert result.exit_code == 1 and "--sim" in result.output
