"""act-tool's ONNX Runtime runner + executor against LeRobot's own select_action, step by step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from act_tool.runtime.executor import make_executor
from act_tool.runtime.runners import open_runner

N_OBS = 60
# Chunks of 100 executed whole: 201 observations query at 0, 100 and 200, so the switch from one
# chunk to the next is compared too (cheap: the policy runs only on those three).
N_OBS_CHUNK100 = 201
BOUND = 1e-4  # of the action std


def lerobot_actions(ckpt, observations, coeff: float | None, n_action_steps: int) -> np.ndarray:
    """What LeRobot's robot loop executes: processors around policy.select_action."""
    import torch
    from lerobot.policies.act.modeling_act import ACTTemporalEnsembler
    from lerobot.policies.utils import prepare_observation_for_inference

    policy = ckpt.policy
    policy.config.n_action_steps = n_action_steps
    policy.config.temporal_ensemble_coeff = coeff
    if coeff is not None:
        policy.temporal_ensembler = ACTTemporalEnsembler(coeff, policy.config.chunk_size)
    policy.reset()
    ckpt.preprocessor.reset()
    ckpt.postprocessor.reset()
    out = []
    for obs in observations:
        raw = {k: f.copy() for k, f in obs.frames.items()}
        raw["observation.state"] = obs.state.copy()
        with torch.inference_mode():
            batch = prepare_observation_for_inference(raw, torch.device("cpu"))
            batch = ckpt.preprocessor(batch)
            action = policy.select_action(batch)
            action = ckpt.postprocessor(action)
        out.append(action[0].float().numpy())
    return np.stack(out)


def act_tool_actions(onnx: Path, observations, coeff: float | None, n_action_steps: int):
    """The loop's own sequence of calls on a synchronous scheduler (ensembling: prepare, infer,
    finish with the runner's output buffer, stored at the next step)."""
    from act_tool.export.parity import artifact_inputs
    from act_tool.runtime.scheduling import SyncScheduler

    out = []
    with open_runner(onnx) as runner:
        spec = runner.spec
        executor = make_executor(spec.chunk_size, len(spec.action_names), n_action_steps, coeff)
        scheduler = SyncScheduler(runner, executor)
        action = np.zeros(len(spec.action_names), dtype=np.float32)
        for tick, obs in enumerate(observations):
            if scheduler.wants_observation(tick):
                scheduler.prepare(tick)
                for name, value in artifact_inputs(obs, spec).items():
                    np.copyto(runner.inputs[name], value)
                scheduler.submit(tick)
            scheduler.collect(tick)
            out.append(scheduler.next_action(tick, action).copy())
    return np.stack(out)


@pytest.mark.parametrize(
    "fixture,coeff,n_steps,n_obs",
    [
        ("chunk100", None, 100, N_OBS_CHUNK100),
        ("chunk100_steps10", None, 10, N_OBS),
        ("chunk100", 0.01, 1, N_OBS),
    ],
    ids=["chunk-100", "chunk-10", "ensemble-0.01"],
)
def test_actions_match_lerobot_select_action(request, fixture, coeff, n_steps, n_obs):
    from act_tool.export.parity import random_observations
    from act_tool.policy.checkpoint import load_checkpoint
    from act_tool.policy.describe import action_scale

    ckpt_path, onnx = request.getfixturevalue(fixture)
    ckpt = load_checkpoint(ckpt_path)
    observations = random_observations(ckpt, n_obs, seed=11)
    expected = lerobot_actions(ckpt, observations, coeff, n_steps)
    got = act_tool_actions(onnx, observations, coeff, n_steps)
    assert got.shape == expected.shape == (n_obs, 6)
    assert n_obs > n_steps, "the policy is queried more than once"
    rel = np.abs(got.astype(np.float64) - expected) / action_scale(ckpt)
    assert rel.max() <= BOUND, (
        f"worst {rel.max():.2e} of the action std at step {rel.max(1).argmax()}"
    )
    # The sequence really exercises the mode: chunk boundaries / blending change the actions.
    assert np.abs(np.diff(expected, axis=0)).max() > 0


@pytest.mark.parametrize("split", [False, True], ids=["push-pop", "prepare-finish"])
@pytest.mark.parametrize("coeff", [0.01, -0.05])
def test_ensembling_in_robot_units_equals_normalized_units(coeff, split):
    """Blending unnormalized chunks equals unnormalizing the blend (affine, weights sum to 1).
    Long enough for the steady-state weights and the entries' move back to the buffer's start,
    and across a reset (a new episode starts from an empty ensemble, as LeRobot's reset)."""
    import torch
    from lerobot.policies.act.modeling_act import ACTTemporalEnsembler

    rng = np.random.default_rng(0)
    chunk, dim, steps = 20, 6, 4 * 20 + 7
    std, mean = rng.uniform(1, 30, dim), rng.uniform(-50, 50, dim)
    ours = make_executor(chunk, dim, 1, coeff)
    out = np.zeros(dim)
    buffer = np.zeros((chunk, dim))  # split: one buffer rewritten each step, as a runner's output
    for episode in range(2):
        ref = ACTTemporalEnsembler(coeff, chunk)
        ours.reset()
        for step in range(steps - 30 * episode):
            normalized = rng.standard_normal((chunk, dim))
            expected = ref.update(torch.from_numpy(normalized[None]))[0].numpy() * std + mean
            if split:
                ours.prepare()
                np.copyto(buffer, normalized * std + mean)
                ours.finish(buffer, out)
            else:
                ours.push(normalized * std + mean)
                ours.pop(out)
            np.testing.assert_allclose(
                out, expected, rtol=0, atol=1e-6 * std.max(), err_msg=f"step {step}"
            )  # torch weights are float32
    assert ours.steady, "the steady-state path was exercised"


def test_chunk_executor_refuses_pop_when_empty():
    from act_tool.runtime.executor import ExecutorError

    ex = make_executor(10, 6, 5, None)
    with pytest.raises(ExecutorError, match="query the policy"):
        ex.pop(np.zeros(6))
    with pytest.raises(ExecutorError, match="n_action_steps"):
        make_executor(10, 6, 5, 0.01)


def test_ensembling_with_a_one_step_chunk_executes_each_prediction():
    """chunk_size 1: every step has exactly one prediction for it, so the blend is that action."""
    rng = np.random.default_rng(3)
    ours = make_executor(1, 6, 1, 0.01)
    out = np.zeros(6)
    for _ in range(5):
        chunk = rng.standard_normal((1, 6))
        ours.push(chunk)
        np.testing.assert_array_equal(ours.pop(out), chunk[0])


def test_ensembler_refuses_out_of_order_use():
    from act_tool.runtime.executor import ExecutorError

    ex = make_executor(10, 6, 1, 0.01)
    with pytest.raises(ExecutorError, match="push a chunk first"):
        ex.pop(np.zeros(6))
    ex.push(np.ones((10, 6)))
    with pytest.raises(ExecutorError, match="push twice"):
        ex.push(np.ones((10, 6)))
