"""Behavioural parity: on the same seed in the twin, the FP32 artifact's joint trajectory stays
within a derived bound of LeRobot's own policy's (the closed-loop counterpart of export's parity
gate), and the JSON reports the largest divergence per episode.

The bound, derived (per joint j, in the arm's units: degrees, gripper 0..100):

1. Same observation, same action to within the gate: export refuses an FP32 artifact unless each
   action is within FP32_BOUND (1e-4) of the action std of LeRobot's, and the self-check holds
   it to that on the machine that runs it: |a_j - a'_j| <= eps_j = FP32_BOUND * std_j
   (tolerances.network_bound).
2. The goal the twin gets: the loop clamps the action to the training range (1-Lipschitz), then
   SO101Arm rounds it to whole Goal_Position counts (c_j units each: 360/4095 degrees; the
   gripper's 100 units over its calibrated range). Two values eps_j apart round to counts at
   most ceil(eps_j / c_j) apart: here eps_j < c_j, so on each tick each goal is either the same
   count (almost always: eps_j is some 1e-3 degrees against a 0.088 degree count) or one count
   off, when the action lies within eps_j of a rounding boundary.
3. The twin: lockstep physics is deterministic (test_eval_sim's same-seed test), so equal goals
   give equal trajectories, bit for bit. A goal one count off moves the joints by what the servo
   makes of it. A position servo tracking its goal has unit gain at rest, but while it slews
   (torque-limited) or overshoots on arrival (the STS3215 model is underdamped), and through the
   arm's inertial coupling, a one-count goal difference can move a joint by more than a count;
   contacts (table, cube) could add more. This gain G_ji (joint j moved per count of joint i's
   goal) is not derived but measured, on the same seed's cell, with the twin itself: one count
   held on joint i's goal from the first tick, both holding the start pose and slewing to where
   the episode went, the peak difference over the episode's ticks. A held offset is the worst
   pattern of flips for this servo: one count for a single tick moves a joint by less in sum
   (at rest about 0.9 counts over all later ticks, against a step's peak of about 1.06).
   Bound: B_j = sum_i G_ji * ceil(eps_i / c_i) * c_i.
4. Feedback: this holds while both policies act on identical observations. Once joints differ,
   the next query sees other states and frames, and how much the policy's answer moves with its
   input is the network's sensitivity, which the export gate does not bound. So the episodes are
   one chunk long (chunk_size / fps seconds, one query), where 1-3 are the whole story, and the
   tiny policy, from the home pose in that time, makes no grasp attempt (no cube contact to
   amplify anything). On this machine the bound comes to 0.10-0.18 degrees per joint (the
   measured gain's rows sum to 1.1-2.1) and the divergence measured 0.0 (no goal crossed a
   count boundary; longer episodes, 5 s on six seeds, also measured 0.0).
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from act_tool.eval.evaluate import EvalOptions, evaluate
from act_tool.runtime.loop_config import LoopConfig
from act_tool.runtime.preflight import PreflightError
from act_tool.spec import EngineSpec, spec_path
from tests.tolerances import FP32_BOUND, network_bound

mujoco = pytest.importorskip("mujoco", reason="the `sim` extra (MuJoCo) is not installed")

from act_tool.hw.emulator import DEFAULT_CALIBRATION  # noqa: E402
from act_tool.hw.so101.units import MAX_RES  # noqa: E402
from act_tool.sim.twin import Twin, TwinConfig  # noqa: E402


def one_count() -> np.ndarray:
    """A Goal_Position count in the arm's units (degrees; the gripper's 0..100 range)."""
    gripper = DEFAULT_CALIBRATION.joints[5]
    return np.array([360 / MAX_RES] * 5 + [100 / (gripper.range_max - gripper.range_min)])


def goal_gain(seed: int, target: np.ndarray, ticks: int, fps: int) -> np.ndarray:
    """G[j, i]: the peak |difference| of joint j over `ticks`, per count held on joint i's goal,
    from the seed's start (the twin's home pose, as an episode starts), for the goals holding
    home and for the goals at `target` (slewing there); the larger of the two."""
    count = one_count()
    with Twin(TwinConfig(max_height=8, max_width=8)) as twin:

        def run(goal: np.ndarray) -> np.ndarray:
            twin.reset(seed=seed)
            out = np.empty((ticks, 6))
            for k in range(ticks):
                twin.set_goals(goal)
                twin.step(1.0 / fps)
                twin.joint_positions(out[k])
            return out

        gain = np.zeros((6, 6))
        for goal in (twin.home.copy(), np.asarray(target, np.float64)):
            nominal = run(goal)
            for i in range(6):
                shifted = goal.copy()
                shifted[i] += count[i]
                peak = np.abs(run(shifted) - nominal).max(axis=0) / count[i]
                gain[:, i] = np.maximum(gain[:, i], peak)
    return gain


def test_fp32_artifact_follows_lerobot_within_the_derived_bound(eval_onnx, tmp_path):
    spec = EngineSpec.read(spec_path(eval_onnx))
    assert spec.precision == "fp32"
    ticks = spec.n_action_steps  # one chunk: one query, on identical observations
    out = tmp_path / "eval.json"
    report = evaluate(
        EvalOptions(
            eval_onnx,
            episodes=2,
            episode_time_s=ticks / spec.fps,
            compare=("lerobot",),
            json_path=out,
            loop=LoopConfig(force=True, warmup=1),  # --force: the tiny policy's made-up ranges
        ),
        log=lambda _m: None,
    )
    ours, lerobot = report.summaries
    assert ours.name == "onnxruntime fp32" and lerobot.name == "lerobot eager"
    for a, b in zip(ours.episodes, lerobot.episodes, strict=True):
        assert a.ticks == b.ticks == ticks and a.inferences == 1  # one chunk, no feedback
        assert a.grasp_attempts == b.grasp_attempts == 0  # the cube is not touched

    count = one_count()
    eps = network_bound(spec.action_std, FP32_BOUND)  # step 1
    counts_off = np.ceil(eps / count)  # step 2
    assert np.all(counts_off == 1), "the gate's bound spans more than a count: re-derive"
    data = json.loads(out.read_text())
    per_seed = {d["seed"]: d for d in data["divergence_from_lerobot"]}
    assert sorted(per_seed) == [e.seed for e in ours.episodes]  # one figure per episode
    for a, b in zip(ours.episodes, lerobot.episodes, strict=True):
        gain = goal_gain(a.seed, np.asarray(a.trajectory[-1]), ticks, spec.fps)  # step 3
        bound = gain @ (counts_off * count)
        diff = np.abs(np.asarray(a.trajectory) - np.asarray(b.trajectory))
        figure = per_seed[a.seed]
        assert figure["ticks"] == ticks
        # the JSON's figure is this difference's largest element, rounded to 1e-4 degrees
        assert abs(figure["max_deg"] - diff.max()) <= 0.5e-4
        bad = diff > bound
        assert not bad.any(), (
            f"seed {a.seed}: joint divergence {diff.max(axis=0).round(4)} beyond the bound "
            f"{bound.round(4)} (one count {count.round(4)}, measured gain rows "
            f"{gain.sum(axis=1).round(2)})"
        )
    assert "largest joint divergence per episode" in report.text()
    assert math.isfinite(max(d["max_deg"] for d in data["divergence_from_lerobot"]))


def test_a_policy_whose_joints_do_not_fit_the_twin_is_refused_before_episodes(eval_onnx, tmp_path):
    """Joints named for another arm: an error naming both sides, before the twin is built."""
    folder = tmp_path / "other_arm"
    shutil.copytree(eval_onnx.parent, folder)
    artifact = folder / eval_onnx.name
    path = spec_path(artifact)
    data = json.loads(path.read_text())
    names = [f"joint_{k}.pos" for k in range(len(data["state_names"]))]
    data["state_names"] = data["action_names"] = names
    path.write_text(json.dumps(data))
    ran: list[str] = []
    with pytest.raises(PreflightError, match=r"joint_0\.pos.*shoulder_pan\.pos") as caught:
        evaluate(EvalOptions(artifact, episodes=1, episode_time_s=0.1), log=ran.append)
    assert "another arm" in str(caught.value)
    assert not any("evaluating" in line for line in ran)
