"""Reading LeRobot's output into a progress bar."""

from __future__ import annotations

from act_tool.train.progress import ProgressDisplay, TrainProgress, split_output

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
