"""The twin as a LeRobot environment (`lerobot-eval --env.type=act_tool_twin`): LeRobot's own
evaluator, a subprocess of its real CLI, and `act-tool eval --sim` give the same episodes on the
same seeds and policy (LeRobot's `select_action` on a tiny checkpoint, goals not clamped to the
training range: `--no-range-clamp`): the same figures and, tick for tick, the same joints."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from tests.plugins.conftest import lerobot_command

SEEDS = [1000, 1001]


def test_reset_observes_the_layout_of_the_seed(plugin_sources):
    from lerobot_env_act_tool_twin import ActToolTwinEnvConfig
    from lerobot_env_act_tool_twin.env import TwinEnv

    from act_tool.sim.layout import CellLayout

    config = ActToolTwinEnvConfig(height=32, width=48, episode_time_s=0.1)
    assert config.features_map["pixels/handeye"] == "observation.images.handeye"
    assert config.features_map["agent_pos"] == "observation.state"
    env = TwinEnv(config)
    try:
        assert env._max_episode_steps == 3
        observation, info = env.reset(seed=1001)
        assert info["seed"] == 1001 and not info["is_success"]
        assert env.stepper.twin.layout == CellLayout.sample(1001)
        assert observation["agent_pos"].dtype == np.float32 and observation["agent_pos"].shape == (
            6,
        )
        for camera in ("front", "handeye"):
            frame = observation["pixels"][camera]
            assert frame.shape == (32, 48, 3) and frame.dtype == np.uint8
        assert env.observation_space.contains(observation)
        for _ in range(3):
            observation, reward, terminated, truncated, info = env.step(observation["agent_pos"])
        assert truncated and not terminated and reward == 0.0
        assert info["is_success"] is False and info["grasp_attempts"] == 0
        _, info = env.reset()  # no seed: the next one
        assert info["seed"] == 1002
    finally:
        env.close()


def test_bad_options_name_the_choices(plugin_sources):
    from lerobot_env_act_tool_twin import ActToolTwinEnvConfig

    with pytest.raises(SystemExit, match="front, handeye"):
        ActToolTwinEnvConfig(cameras="front,top")
    with pytest.raises(SystemExit, match="pick_place"):
        ActToolTwinEnvConfig(task="stack")
    with pytest.raises(SystemExit, match="degrees"):
        ActToolTwinEnvConfig(units="radians")


def _lerobot_eval(env: dict[str, str], tmp_path, *policy: str) -> list[dict]:
    """LeRobot's real `lerobot-eval` on the twin env: two 1 s episodes from SEEDS[0] at 64x96,
    each episode's record (trajectories included) read back."""
    results = tmp_path / "episodes.jsonl"
    run = subprocess.run(
        [*lerobot_command("lerobot-eval"), "--env.type=act_tool_twin",
         "--env.height=64", "--env.width=96", "--env.episode_time_s=1",
         f"--env.results_path={results}", "--env.results_trajectories=true", *policy,
         "--eval.n_episodes=2", "--eval.batch_size=1", f"--seed={SEEDS[0]}",
         f"--output_dir={tmp_path / 'out'}"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return [json.loads(line) for line in results.read_text().splitlines()]


@pytest.mark.slow
def test_lerobot_eval_and_act_tool_eval_agree_episode_by_episode(
    plugin_env, tiny_checkpoint, tmp_path
):
    from act_tool.eval.evaluate import EvalOptions, evaluate
    from act_tool.runtime.loop_config import LoopConfig

    theirs = _lerobot_eval(
        plugin_env, tmp_path, f"--policy.path={tiny_checkpoint}", "--policy.device=cpu"
    )
    info = json.loads((tmp_path / "out" / "eval_info.json").read_text())
    (task,) = info["per_task"]
    assert task["metrics"]["successes"] == [e["success"] for e in theirs]

    report = evaluate(
        EvalOptions(
            tiny_checkpoint,
            episodes=2,
            seed=SEEDS[0],
            episode_time_s=1.0,
            compare=("lerobot",),
            # --force: the tiny policy's made-up statistics do not cover the home pose
            loop=LoopConfig(force=True, warmup=1, clamp_to_training_range=False),
        ),
        log=lambda _m: None,
    )
    ours = next(s for s in report.summaries if s.name == "lerobot eager").episodes
    assert [e["seed"] for e in theirs] == [e.seed for e in ours] == SEEDS
    figures = ("success", "ticks", "grasp_attempts", "successful_grasps", "steps_to_success",
               "openings_before_grasps", "stop_reason")  # fmt: skip
    for a, b in zip(ours, theirs, strict=True):
        assert {f: getattr(a, f) for f in figures} == {f: b[f] for f in figures}
        assert a.ticks == 30  # 1 s at 30 Hz on the twin's clock
        assert np.array_equal(np.asarray(a.trajectory), np.asarray(b["trajectory"]))
        moved = np.ptp(np.asarray(a.trajectory), axis=0).max()
        assert moved > 5.0  # the policy drove the arm: the agreement is not of two still arms


@pytest.mark.slow
def test_lerobot_eval_with_a_bad_option_value_is_a_message(plugin_env, tiny_checkpoint):
    run = subprocess.run(
        [*lerobot_command("lerobot-eval"), "--env.type=act_tool_twin", "--env.cameras=top",
         f"--policy.path={tiny_checkpoint}"],
        env=plugin_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode != 0
    assert "--env.type=act_tool_twin" in run.stderr and "front, handeye" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.slow
def test_an_act_tool_export_in_lerobot_eval_gives_act_tool_evals_episodes(
    plugin_env, overlay, bench_onnx, tmp_path
):
    """Both plugins at once: LeRobot's evaluator runs an act-tool export (the policy plugin, on
    ONNX Runtime) in the twin (the env plugin), and `act-tool eval --sim` of the same artifact
    drives the same episodes."""
    import os

    from act_tool.eval.evaluate import EvalOptions, evaluate
    from act_tool.runtime.loop_config import LoopConfig

    env = dict(plugin_env)
    env["PYTHONPATH"] = os.pathsep.join([str(overlay), plugin_env["PYTHONPATH"]])
    theirs = _lerobot_eval(
        env, tmp_path, f"--policy.path={bench_onnx.parent}", "--policy.backend=onnxruntime"
    )
    report = evaluate(
        EvalOptions(
            bench_onnx,
            episodes=2,
            seed=SEEDS[0],
            episode_time_s=1.0,
            loop=LoopConfig(force=True, warmup=1, clamp_to_training_range=False),
        ),
        log=lambda _m: None,
    )
    ours = report.summaries[0].episodes
    assert [e["seed"] for e in theirs] == [e.seed for e in ours] == SEEDS
    for a, b in zip(ours, theirs, strict=True):
        assert (a.success, a.ticks, a.grasp_attempts) == (
            b["success"], b["ticks"], b["grasp_attempts"]
        )  # fmt: skip
        assert np.array_equal(np.asarray(a.trajectory), np.asarray(b["trajectory"]))
        assert np.ptp(np.asarray(a.trajectory), axis=0).max() > 5.0  # the arm moved
