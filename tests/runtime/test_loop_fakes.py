"""The loop with in-memory fakes: channel order, overruns, the clamp, preflight refusals, camera
health, warm-up failures, async startup. Fast, no processes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from act_tool.errors import ActToolError
from act_tool.runtime.loop import LoopConfig, LoopError, run_loop
from act_tool.runtime.preflight import PreflightError
from act_tool.spec import EngineSpec
from act_tool.testing import specs
from act_tool.testing.fakes import FakeArm as _FakeArm
from act_tool.testing.fakes import FakeCameras, FakeRunner
from tests.tolerances import assert_within, gamma

JOINTS = tuple(f"j{i}" for i in range(6))
NAMES = tuple(f"{j}.pos" for j in JOINTS)


def make_spec(order: str = "bgr", chunk: int = 5) -> EngineSpec:
    """State trained on -10..10; actions on -10..30 (a gripper commands past where it stops)."""
    return specs.make_spec(channel_order=order, chunk=chunk, names=NAMES)


def FakeArm() -> _FakeArm:  # noqa: N802 (the fake, on this file's joint names)
    return _FakeArm(JOINTS)


@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_frames_reach_the_runner_in_the_spec_channel_order(order):
    cams, arm = FakeCameras(), FakeArm()
    with FakeRunner(make_spec(order)) as runner:
        run_loop(runner, arm, cams, LoopConfig(fps=200, n_action_steps=5, max_ticks=10), print)
    frame = runner.seen_frames[-1]
    expected = cams.bgr if order == "bgr" else cams.bgr[..., ::-1]
    np.testing.assert_array_equal(frame, expected)
    # The state the policy saw is the one read on its query tick (tick 5: the 7th read).
    # Six float32 additions of 0.01 (itself rounded): within 12 roundings of the exact sum.
    want = np.arange(6) + 0.01 * 6
    assert_within(runner.seen_states[-1][0], want, gamma(12) * want, "state seen at tick 5")
    assert len(arm.sent) == 10 and not arm.torque


def run_fake(spec: EngineSpec, value: float, **kw) -> tuple[FakeArm, list[str]]:
    arm, notes = FakeArm(), []
    config = LoopConfig(fps=200, n_action_steps=spec.n_action_steps, max_ticks=3, **kw)
    with FakeRunner(spec, chunk_value=value) as runner:
        run_loop(runner, arm, FakeCameras(), config, notes.append)
    return arm, notes


def test_goals_are_clamped_to_the_action_range_not_the_state_range():
    # The state was trained on -10..10 (+10 %: 12), the action on -10..30: a goal of 25 (a
    # gripper squeezing past where it stops) passes untouched.
    # Exact: the clamp is a few correctly rounded IEEE operations, the same bits on every CPU.
    arm, _ = run_fake(make_spec(), 25.0)
    assert len(arm.sent) == 3 and all((g == 25.0).all() for g in arm.sent)
    # Beyond the action range: 30 + 10 % of the span (40) -> 34.
    arm, _ = run_fake(make_spec(), 50.0)
    assert all((g == 34.0).all() for g in arm.sent)
    arm, _ = run_fake(make_spec(), -50.0)
    assert all((g == -14.0).all() for g in arm.sent)


def test_no_range_clamp_and_specs_without_an_action_range():
    arm, notes = run_fake(make_spec(), 50.0, clamp_to_training_range=False)
    assert all((g == 50.0).all() for g in arm.sent)
    assert any("calibrated range only" in n for n in notes)
    # A format-1 spec has no action range: no training-range clamp (never the state range),
    # and the run says so.
    old = replace(make_spec(), action_min=(), action_max=(), format_version=1)
    arm, notes = run_fake(old, 50.0)
    assert all((g == 50.0).all() for g in arm.sent)
    assert any("no action range" in n and "Export again" in n for n in notes)


def test_overruns_are_counted_and_slots_skipped():
    arm = FakeArm()
    with FakeRunner(make_spec(chunk=2), delay_s=0.03) as runner:
        summary = run_loop(
            runner, arm, FakeCameras(), LoopConfig(fps=100, n_action_steps=2, max_ticks=10)
        )
    assert summary.ticks == 10
    assert summary.overruns == 5  # every query tick (every other tick) takes 30 ms of a 10 ms slot
    assert summary.missed_slots >= 10
    assert summary.achieved_hz < 60


@pytest.mark.parametrize(
    "state_names, action_names, message",
    [
        (NAMES[::-1], NAMES, r"state joints .*another order"),
        (NAMES, NAMES[1:] + NAMES[:1], r"action joints .*another order"),
        (
            tuple(f"main_{j}" for j in JOINTS),
            NAMES,
            r"\[main_j0, .*\], the arm's are \[j0.pos, .*another arm",
        ),
    ],
    ids=["state-order", "action-order", "other-arm"],
)
def test_joint_name_or_order_mismatch_is_refused_even_with_force(
    state_names, action_names, message
):
    spec = replace(make_spec(), state_names=state_names, action_names=action_names)
    for force in (False, True):
        arm = FakeArm()
        with FakeRunner(spec) as runner, pytest.raises(PreflightError, match=message) as e:
            run_loop(runner, arm, FakeCameras(), LoopConfig(fps=200, n_action_steps=5, force=force))
        assert "--force does not override" in str(e.value)
        assert arm.sent == [] and runner.calls == 0


def test_bare_joint_names_match_their_pos_keys():
    spec = replace(make_spec(), state_names=JOINTS, action_names=JOINTS)
    arm, _ = run_fake(spec, 1.0)
    assert len(arm.sent) == 3


def test_preflight_checks_the_frames_the_camera_delivers():
    """The camera was asked for 4x6 (the spec's size) but sends 8x6: refused before anything."""
    arm = FakeArm()
    with FakeRunner(make_spec()) as runner:
        with pytest.raises(PreflightError, match="front delivers 6x8 frames.*trained on 6x4"):
            run_loop(
                runner, arm, FakeCameras(delivered=(8, 6, 3)), LoopConfig(fps=200, n_action_steps=5)
            )
        with pytest.raises(PreflightError, match="uint8 colour frames"):
            run_loop(
                runner, arm, FakeCameras(delivered=(4, 6)), LoopConfig(fps=200, n_action_steps=5)
            )
    assert arm.sent == [] and runner.calls == 0


def test_camera_health_is_checked_on_every_tick_without_a_query():
    cams, arm = FakeCameras(), FakeArm()
    with FakeRunner(make_spec()) as runner:
        run_loop(runner, arm, cams, LoopConfig(fps=200, n_action_steps=5, max_ticks=10))
    # Chunks of 5: frames copied on ticks 0 and 5 (+ the warm-up), checked on the 8 others.
    assert (cams.reads, cams.checks) == (3, 8)
    cams, arm = FakeCameras(), FakeArm()
    cams.dead_after_checks = 2  # dies after tick 2: tick 3 (no query) must notice
    with (
        FakeRunner(make_spec()) as runner,
        pytest.raises(LoopError, match="stopped at tick 3.*unplugged.*Torque is off") as e,
    ):
        run_loop(runner, arm, cams, LoopConfig(fps=200, n_action_steps=5, max_ticks=10))
    assert len(arm.sent) == 3 and not arm.torque
    assert e.value.summary.ticks == 3


def test_warm_up_failure_stops_with_torque_off_and_the_log_flushed(tmp_path):
    log_path = tmp_path / "run.jsonl"
    arm = FakeArm()
    config = LoopConfig(fps=200, n_action_steps=5, max_ticks=10, log_path=log_path)
    with (
        FakeRunner(make_spec(), fail_on=1) as runner,
        pytest.raises(LoopError, match="during warm-up.*policy crashed.*Torque is off") as e,
    ):
        run_loop(runner, arm, FakeCameras(), config)
    assert not arm.torque and arm.sent == []
    assert e.value.summary.ticks == 0 and "warm-up" in e.value.summary.stop_reason
    assert log_path.is_file() and log_path.read_text() == ""


def test_async_first_chunk_wait_is_startup_not_an_overrun(tmp_path):
    """The first chunk takes 5 periods; it shifts the grid instead of counting as an overrun."""
    log_path = tmp_path / "run.jsonl"
    arm = FakeArm()
    config = LoopConfig(
        fps=50, n_action_steps=5, asynchronous=True, max_ticks=4, warmup=1, log_path=log_path
    )
    with FakeRunner(make_spec(), delay_s=0.1) as runner:
        summary = run_loop(runner, arm, FakeCameras(), config)
    rows = [json.loads(line) for line in log_path.read_text().splitlines()]
    first = rows[0]
    assert first["inferred"] and first["inference"] >= 0.09  # the wait is the inference stage
    assert not first["overrun"] and first["slack"] > 0
    assert first["output"] < 0.05 and first["executor"] < 0.05
    # Without the shift the first tick alone would skip 5 slots.
    assert summary.missed_slots < 5 and len(arm.sent) == 4


def test_async_with_ensembling_is_refused():
    with pytest.raises(ActToolError, match="one or the other"):
        LoopConfig(fps=30, n_action_steps=1, temporal_ensemble_coeff=0.01, asynchronous=True)
