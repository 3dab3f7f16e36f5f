"""`act-tool train` on the command line: what reaches LeRobot and what is refused at once.
Nothing here trains: run_training is replaced where a request would be accepted."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.train import hub, runner


@pytest.fixture
def requests(monkeypatch) -> list:
    """The TrainRequests the CLI hands to run_training (which does nothing here)."""
    seen: list = []

    def fake_run(request, log=print, **kwargs):
        seen.append(request)
        raise SystemExit(0)

    monkeypatch.setattr(runner, "run_training", fake_run)
    return seen


def test_only_arguments_after_double_dash_reach_lerobot(requests):
    args = ["train", "--dataset", "a/b", "--steps", "5", "--", "--policy.dim_model=64", "--seed=7"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert requests[0].extra == ("--policy.dim_model=64", "--seed=7")
    assert requests[0].steps == 5 and requests[0].dataset == "a/b"


@pytest.mark.parametrize(
    "args, match",
    [
        (["--dataset", "a/b", "--policy.dim_model=64"], "No such option: --policy.dim_model"),
        (["--dataset", "a/b", "--stesp", "5", "--", "--seed=7"], "No such option: --stesp"),
        (["stray", "--dataset", "a/b"], "unexpected extra argument"),
    ],
)
def test_unknown_options_before_double_dash_are_usage_errors(requests, args, match):
    r = CliRunner().invoke(app, ["train", *args])
    assert r.exit_code == 2 and match in r.output
    assert requests == []
    text = " ".join(r.output.replace("│", " ").split())  # unwrapped from the error panel
    hint = "LeRobot's own options go after --"
    assert (hint in text) == match.startswith("No such option"), "the hint on unknown options"


def test_owned_and_malformed_passthrough_fail_before_any_work(tmp_path):
    out = tmp_path / "run"
    base = ["train", "--dataset", "a/b", "-o", str(out), "--"]
    r = CliRunner().invoke(app, [*base, "--steps=abc"])
    assert r.exit_code == 1 and "use the act-tool option --steps N" in r.output
    r = CliRunner().invoke(app, [*base, "--output_dir=/elsewhere"])
    assert r.exit_code == 1 and "--output DIR" in r.output
    r = CliRunner().invoke(app, [*base, "--log_freq=often"])
    assert r.exit_code == 1 and "expected a whole number" in r.output
    assert not out.exists()


def test_dataset_typo_is_refused_without_touching_the_hub(tmp_path, monkeypatch):
    def no_hub(*args, **kwargs):
        raise AssertionError("the hub was asked about a local path")

    monkeypatch.setattr(hub, "read_text", no_hub)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo-out").mkdir()
    r = CliRunner().invoke(app, ["train", "--dataset", "demo-out/dta", "-o", "runs/a"])
    assert r.exit_code == 1 and "no dataset directory at demo-out/dta" in r.output
    assert not (tmp_path / "runs").exists()
