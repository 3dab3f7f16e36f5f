"""Reading LeRobot's output into a progress bar."""

from __future__ import annotations

import pytest

from act_tool.train.progress import ProgressDisplay, TrainProgress, logged_step, split_output

TQDM = "Training:  25%|██▌       | 5/20 [00:01<00:05,  2.99step/s]"
METRICS = (
    "INFO 2026-11-25 05:35:44 ot_train.py:641 step:5 smpl:40 ep:1 epch:0.11 loss:73.092 "
    "grdn:333.123 lr:1.0e-05 updt_s:0.259 data_s:0.049 smp/s:26 l1_loss:0.997 kld_loss:7.210"
)


def test_split_output_handles_carriage_returns():
    lines, rest = split_output("a\rb\nc\r\nd")
    assert lines == ["a", "b", "c"] and rest == "d"


def test_progress_reads_tqdm_and_metrics():
    p = TrainProgress(total=20)
    assert p.feed("Training:   5%|▌  | 1/20 [00:00<00:06,  2.85step/s]", now=0.0)
    assert p.feed(TQDM + METRICS, now=4.0)
    assert p.step == 5 and p.loss == 73.092 and p.grad_norm == 333.123 and p.lr == 1e-5
    assert p.seconds_left(now=4.0) == 15.0  # 4 steps in 4 s, 15 to go
    line = p.line(now=4.0)
    for part in ("step 5/20", "loss 73.09", "grad 333", "lr 1.0e-05", "left 0m15s"):
        assert part in line
    assert not p.feed("INFO Creating dataset")


def test_progress_on_resume_counts_from_the_checkpoint():
    p = TrainProgress(total=30, start_step=20)
    p.feed("Training:  50%|█████     | 5/10 [00:01<00:01,  3.0step/s]")
    assert p.step == 25


def test_display_without_terminal_prints_a_line_per_metrics_update():
    out: list[str] = []
    p = TrainProgress(total=20)
    d = ProgressDisplay(p, out.append, interactive=False)
    p.feed(TQDM)
    d.update()
    assert out == []  # no metrics yet
    p.feed(METRICS)
    d.update()
    d.update()
    assert len(out) == 1 and "loss 73.09" in out[0]


# Under SLURM LeRobot turns tqdm off: only its metrics lines come (captured from a run).
SLURM_LOG = [
    "INFO 2026-11-25 05:35:41 ot_train.py:597 Start offline training on a fixed dataset, with "
    "effective batch size: 8",
    "INFO 2026-11-25 05:35:44 ot_train.py:641 step:200 smpl:2K ep:8 epch:0.18 loss:5.120 "
    "grdn:88.310 lr:1.0e-05 updt_s:0.259 data_s:0.049 smp/s:26 l1_loss:0.997 kld_loss:7.210",
    "INFO 2026-11-25 05:36:39 ot_train.py:641 step:400 smpl:3K ep:16 epch:0.36 loss:2.050 "
    "grdn:41.002 lr:1.0e-05 updt_s:0.261 data_s:0.047 smp/s:26 l1_loss:0.612 kld_loss:1.438",
]


def test_progress_without_tqdm_follows_lerobots_log_lines():
    p = TrainProgress(total=1000, log_freq=200)
    assert not p.feed(SLURM_LOG[0], now=0.0)
    assert p.feed(SLURM_LOG[1], now=10.0) and p.step == 200 and p.loss == 5.12
    assert p.feed(SLURM_LOG[2], now=20.0) and p.step == 400 and p.grad_norm == 41.002
    assert p.seconds_left(now=20.0) == 30.0  # 200 steps per 10 s, 600 to go
    assert "step 400/1000" in p.line(now=20.0)


def tracker_lines(start: int, end: int, log_freq: int) -> list[tuple[int, str]]:
    """(step, line) of each metrics line LeRobot's own MetricsTracker writes from `start` to
    `end`, formatted as lerobot_train logs it (its step field rounds to K above 999)."""
    pytest.importorskip("lerobot")
    from lerobot.utils.logging_utils import AverageMeter, MetricsTracker

    metrics = {
        "loss": AverageMeter("loss", ":.3f"),
        "grad_norm": AverageMeter("grdn", ":.3f"),
        "lr": AverageMeter("lr", ":0.1e"),
        "update_s": AverageMeter("updt_s", ":.3f"),
    }
    tracker = MetricsTracker(8, 5000, 50, metrics, initial_step=start)
    out = []
    for step in range(start + 1, end + 1):
        tracker.step()
        tracker.loss, tracker.grad_norm, tracker.lr, tracker.update_s = 1.0, 2.0, 1e-5, 0.1
        if step % log_freq == 0:
            out.append((step, f"INFO 2026-11-25 05:35:44 ot_train.py:641 {tracker}"))
            tracker.reset_averages()
    return out


@pytest.mark.parametrize("start, end, log_freq", [(0, 4000, 200), (1100, 3000, 300)])
def test_rounded_log_steps_resolve_to_the_exact_step(start, end, log_freq):
    lines = tracker_lines(start, end, log_freq)
    assert any("step:2K " in line for _, line in lines)  # the rounding this has to undo
    p = TrainProgress(total=end, start_step=start, log_freq=log_freq)
    for step, line in lines:
        assert p.feed(line)
        assert p.step == step, line
    assert p.step == end


def test_a_missed_log_line_falls_back_to_the_rounded_step():
    p = TrainProgress(total=10_000, log_freq=200)
    p.feed("step:1K smpl:8K ep:1 epch:0.1 loss:1.0 grdn:2.0 lr:1.0e-05")  # step 1000
    p.feed("step:5K smpl:40K ep:5 epch:0.5 loss:1.0 grdn:2.0 lr:1.0e-05")  # lines lost between
    assert p.step == 5000
    assert logged_step("3", "K", 5000, 200) == 3000 and logged_step("950", "", 0, None) == 950


def test_tqdm_and_log_lines_together_agree():
    p = TrainProgress(total=20, log_freq=5)
    p.feed(TQDM)
    p.feed(METRICS)
    assert p.step == 5 and p.loss == 73.092
    p.feed("Training:  30%|███       | 6/20 [00:01<00:05,  2.99step/s]")
    assert p.step == 6  # tqdm counts every step between log lines
