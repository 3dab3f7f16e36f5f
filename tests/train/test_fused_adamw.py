"""LeRobot's AdamW switched to PyTorch's fused CPU kernel: the same updates, within rounding."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from act_tool.train.fused_adamw import choose_adamw_kernel, use_fused_adamw  # noqa: E402
from tests.tolerances import assert_within, gamma  # noqa: E402

STEPS = 3


def _params(seed: int) -> list:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(n, generator=g)) for n in (1000, 37, 5)]


def _train(fused: bool) -> tuple[list, torch.optim.Optimizer]:
    params = _params(0)
    opt = torch.optim.AdamW(
        [{"params": params[:2], "lr": 1e-3}, {"params": params[2:], "lr": 1e-4}], weight_decay=0.01
    )
    assert use_fused_adamw(opt) if fused else True
    g = torch.Generator().manual_seed(1)
    for _ in range(STEPS):
        for p in params:
            p.grad = torch.randn(p.shape, generator=g)
        opt.step()
    return params, opt


def test_fused_updates_equal_the_loops_within_rounding():
    start = _params(0)
    loop, _ = _train(False)
    fused, opt = _train(True)
    assert all(group["fused"] for group in opt.param_groups)
    for p0, a, b in zip(start, loop, fused, strict=True):
        assert not torch.equal(a, p0)  # the steps moved the parameters
        # Each step: decay and an update of at most lr * |m_hat| / sqrt(v_hat) <= 10 lr (Adam's
        # normalized step, well under 10 at three steps), each a few roundings in either kernel.
        lr = 1e-3
        bound = STEPS * 2 * gamma(8) * (np.abs(p0.detach().numpy()) + 10 * lr)
        assert_within(b.detach().numpy(), a.detach().numpy(), bound, "fused against loop AdamW")


def test_state_saves_and_loads_as_lerobots():
    _, opt = _train(True)
    state = opt.state_dict()
    params = _params(0)
    fresh = torch.optim.AdamW([{"params": params[:2]}, {"params": params[2:]}], lr=1e-3)
    fresh.load_state_dict(state)  # a resumed run's optimizer, as LeRobot loads it
    assert all(group["fused"] for group in fresh.param_groups)
    assert torch.equal(fresh.state[params[0]]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_other_optimizers_and_devices_are_left_alone():
    sgd = torch.optim.SGD(_params(0), lr=0.1)
    assert not use_fused_adamw(sgd)
    half = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(3, dtype=torch.bfloat16))])
    assert not use_fused_adamw(half) and not half.param_groups[0]["fused"]


def test_the_chosen_kernel_survives_loading_a_checkpoints_state(monkeypatch):
    """Loading a state puts back the saved settings; choosing again after it restores the
    wanted kernel either way (a run saved before the switch, or one told not to use it)."""
    unfused = torch.optim.AdamW(_params(0), lr=1e-3)
    for p in unfused.param_groups[0]["params"]:
        p.grad = torch.ones_like(p)
    unfused.step()
    fused = torch.optim.AdamW(_params(0), lr=1e-3)
    assert choose_adamw_kernel(fused)
    fused.load_state_dict(unfused.state_dict())
    assert not fused.param_groups[0]["fused"]  # what loading does
    assert choose_adamw_kernel(fused) and fused.param_groups[0]["fused"]
    for p in fused.param_groups[0]["params"]:
        p.grad = torch.ones_like(p)
    fused.step()  # the fused kernel runs on the loaded state
    monkeypatch.setenv("ACT_TOOL_FUSED_ADAMW", "0")
    assert not choose_adamw_kernel(fused) and not fused.param_groups[0]["fused"]
