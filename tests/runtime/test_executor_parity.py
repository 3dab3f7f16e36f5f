"""act-tool's ONNX Runtime runner + executor against LeRobot's own select_action, step by step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from act_tool.runtime.executor import make_executor
from act_tool.runtime.runners import ACTION, open_runner
from tests.tolerances import FP32_BOUND, U32, assert_within, gamma

N_OBS = 60
# Chunks of 100 executed whole: 201 observations query at 0, 100 and 200, so the switch from one
# chunk to the next is compared too (cheap: the policy runs only on those three).
N_OBS_CHUNK100 = 201


def ensemble_bound(chunk: int, coeff: float, max_abs: float, float32_sums: bool) -> float:
    """How far LeRobot's temporal ensemble can be from the same blend computed exactly, in units
    of max |action|. Its weights exp(-c i) are float32: -c i rounded (u), exp within 2 ulp, so each
    weight is within 3u of exact while |c| (chunk - 1) <= 1; their cumsum within gamma_chunk. The
    running average divides by the cumsum entry it multiplies by at the next step, so the result
    is a blend with weights and normaliser off by those amounts: twice their sum. With float32
    actions (`float32_sums`) its three roundings per step over up to `chunk` steps add
    gamma_(3 chunk)."""
    assert abs(coeff) * (chunk - 1) <= 1, "the 3u bound of a weight needs |c i| <= 1"
    bound = 2 * (3 * U32 + gamma(chunk))
    if float32_sums:
        bound += gamma(3 * chunk)
    return bound * max_abs


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
    finish with the runner's output buffer, stored at the next step): the actions, and every
    chunk the policy gave."""
    from act_tool.export.parity import artifact_inputs
    from act_tool.runtime.scheduling import SyncScheduler

    out, chunks = [], []
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
                chunks.append(runner.outputs[ACTION][0].copy())
            else:
                scheduler.collect(tick)
            out.append(scheduler.next_action(tick, action).copy())
    return np.stack(out), np.stack(chunks)


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
    got, chunks = act_tool_actions(onnx, observations, coeff, n_steps)
    assert got.shape == expected.shape == (n_obs, 6)
    assert n_obs > n_steps, "the policy is queried more than once"
    # The ONNX model is within the FP32 parity bound of LeRobot's chunks, and so is a blend of
    # chunks (weights summing to 1); LeRobot's float32 ensembling adds its rounding, and both
    # sides round the action to float32 once in robot units.
    scale = action_scale(ckpt)
    bound = FP32_BOUND + 2 * U32 * np.abs(expected) / scale
    if coeff is not None:
        largest = float(np.abs((chunks - ckpt.stats["action"]["mean"]) / scale).max())
        bound = bound + ensemble_bound(ckpt.config.chunk_size, coeff, largest, float32_sums=True)
    rel = np.abs(got.astype(np.float64) - expected) / scale
    assert (rel <= bound).all(), (
        f"worst {(rel - bound).max():+.2e} of the action std past the bound at step "
        f"{(rel - bound).max(1).argmax()}"
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
    largest = 0.0  # max |normalized action| so far: the blend's magnitude
    for episode in range(2):
        ref = ACTTemporalEnsembler(coeff, chunk)
        ours.reset()
        for step in range(steps - 30 * episode):
            normalized = rng.standard_normal((chunk, dim))
            largest = max(largest, float(np.abs(normalized).max()))
            expected = ref.update(torch.from_numpy(normalized[None]))[0].numpy() * std + mean
            if split:
                ours.prepare()
                np.copyto(buffer, normalized * std + mean)
                ours.finish(buffer, out)
            else:
                ours.push(normalized * std + mean)
                ours.pop(out)
            # LeRobot's weights are float32 (ours float64), the rest float64 on both sides.
            bound = ensemble_bound(chunk, coeff, largest, float32_sums=False) * std
            assert_within(out, expected, bound, f"episode {episode}, step {step}")
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
