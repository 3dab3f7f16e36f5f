"""`act-tool train`: check everything, then run LeRobot's own training and follow it.

Why a subprocess rather than calling `lerobot.scripts.lerobot_train.train()` in-process:
multi-GPU training has to be started by `accelerate launch` anyway, and one code path for one
and N GPUs is simpler to trust; LeRobot's entry point parses `sys.argv` (draccus) and resets the
root logger, which an in-process call would have to work around; a crash or an out-of-memory
kill in training cannot take the CLI with it, so it can still report what happened. The price is
that progress is read from LeRobot's output (see `progress.py`). The frozen-backbone loop
(`--freeze-backbone`, `frozen_loop.py`) is the exception: one device, its own loop around
LeRobot's model, run in-process.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from act_tool.train.backbone import BackbonePlan, plan_backbone
from act_tool.train.command import (
    TrainOptions,
    build_command,
    build_env,
    int_value,
    log_freq,
    parse_passthrough,
    target_steps,
)
from act_tool.train.dataset_check import DatasetSummary, inspect_dataset
from act_tool.train.errors import TrainError
from act_tool.train.frozen_marker import FROZEN_MARKER
from act_tool.train.hub import hub_offline
from act_tool.train.pretrained import check_pretrained_policy
from act_tool.train.progress import ProgressDisplay, TrainProgress, split_output
from act_tool.train.resume_check import check_resume_unchanged

LOG_NAME = "act_tool_train.log"
TQDM_PREFIX = re.compile(r"^\s*Training:[^\]]*\]")


@dataclass(frozen=True)
class TrainRequest:
    """`act-tool train` as asked: the dataset as given (path or hub id) and the options."""

    output: Path
    dataset: str | None = None
    steps: int | None = None
    batch_size: int | None = None
    resume: bool = False
    device: str = "auto"
    gpus: int = 1
    wandb: bool = False
    pretrained_backbone: bool = True
    backbone_weights: Path | None = None
    backbone: Path | None = None  # a twin backbone (act-tool backbone) to start the ResNet18 from
    freeze_backbone: bool = False
    bf16: bool = False
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainResult:
    output: Path
    checkpoint: Path  # checkpoints/last/pretrained_model
    step: int
    seconds: float
    frozen: bool = False  # trained in-process by the frozen-backbone loop (no LeRobot log file)

    @property
    def log_path(self) -> Path:
        return self.output / LOG_NAME

    @property
    def export_command(self) -> str:
        return f"act-tool export {shlex.quote(str(self.checkpoint))} -o {shlex.quote(str(self.output / 'export'))}"


def checkpoint_step(output: Path) -> int:
    """The step of a run's last checkpoint (LeRobot's training_state/training_step.json)."""
    path = output / "checkpoints" / "last" / "training_state" / "training_step.json"
    try:
        return int(json.loads(path.read_text())["step"])
    except (OSError, ValueError, KeyError) as e:
        raise TrainError(f"cannot read the checkpoint's step from {path}: {e}") from e


def _saved_config(options: TrainOptions) -> dict:
    try:
        return json.loads(options.resume_config.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise TrainError(f"cannot read {options.resume_config}: {e}") from e


def end_step(options: TrainOptions) -> int:
    """The step the run ends at; a resumed run keeps its own unless told otherwise."""
    if options.resume and options.steps is None:
        return int(_saved_config(options)["steps"])
    return target_steps(options)


def run_log_freq(options: TrainOptions) -> int:
    """How often LeRobot logs its metrics line in this run (the progress display counts them)."""
    user = parse_passthrough(options.extra)
    if "log_freq" in user:
        return int_value(user, "log_freq")
    if options.resume:
        return int(_saved_config(options).get("log_freq", 200))
    return log_freq(target_steps(options))


def prepare(request: TrainRequest) -> tuple[TrainOptions, DatasetSummary | None, int]:
    """Every check that can fail before training starts. Returns options, dataset, start step."""
    parse_passthrough(request.extra)  # option mistakes first: they cost nothing to find
    output = request.output.expanduser().resolve()
    summary = inspect_dataset(request.dataset) if request.dataset is not None else None
    options = TrainOptions(
        output=output,
        dataset_repo_id=summary.repo_id if summary else None,
        dataset_root=summary.root if summary else None,
        steps=request.steps,
        batch_size=request.batch_size,
        resume=request.resume,
        device=request.device,
        gpus=request.gpus,
        wandb=request.wandb,
        pretrained_backbone=request.pretrained_backbone,
        bf16=request.bf16,
        extra=request.extra,
    )
    if request.bf16:
        from act_tool.train.cpu_features import require_bf16

        if request.device != "cpu":
            raise TrainError("--bf16 is for CPU training (--device cpu); on a GPU pass -- "
                             "--policy.use_amp=true")  # fmt: skip
        require_bf16()
    if request.backbone is not None and options.pretrained_policy is not None:
        raise TrainError("--backbone starts the policy's ResNet18; drop -- --policy.path "
                         "(a pretrained policy brings its own backbone) or --backbone")  # fmt: skip
    if options.pretrained_policy is not None:
        check_pretrained_policy(options.pretrained_policy)
    start = 0
    if request.resume:
        if not options.resume_config.is_file():
            raise TrainError(
                f"--resume needs a finished checkpoint, but {options.resume_config} is missing: "
                "is --output the directory of an earlier `act-tool train` run?"
            )
        check_resume_unchanged(
            _saved_config(options),
            output,
            summary,
            request.batch_size,
            parse_passthrough(request.extra),
        )
        start = checkpoint_step(output)
        end = end_step(options)
        if end <= start:
            raise TrainError(
                f"the run in {output} is already at step {start}: pass --steps larger than {start}"
            )
    elif output.exists():
        raise TrainError(
            f"{output} already exists: pass --resume to continue that run, or choose another "
            "--output"
        )
    return options, summary, start


def _backbone(request: TrainRequest, options: TrainOptions, private_home: Path) -> BackbonePlan:
    start = "the run's checkpoint" if options.resume else options.pretrained_policy
    if start is not None:
        # The checkpoint holds the trained backbone; the command builds the model without
        # ImageNet weights (policy.pretrained_backbone_weights=null) before loading it.
        if request.backbone_weights is not None:
            raise TrainError(
                f"--backbone-weights is not used here: the backbone's weights come from {start}; "
                "drop --backbone-weights"
            )
        return BackbonePlan(False, None, f"backbone: trained weights from {start}")
    offline = hub_offline()
    return plan_backbone(
        request.pretrained_backbone, request.backbone_weights, private_home, download=not offline
    )


def run_training(
    request: TrainRequest,
    log: Callable[[str], None] = print,
    write: Callable[[str], None] | None = None,
    interactive: bool | None = None,
) -> TrainResult:
    """Check, train with LeRobot, and return the run's last checkpoint. `log` gets messages,
    `write` the progress bar (default: stderr)."""
    options, summary, start = prepare(request)
    if summary is not None:
        log(summary.describe())
    if frozen_run(request, options):
        return _train_frozen(request, options, start, log)
    with tempfile.TemporaryDirectory(prefix="act_tool_train_") as private_home:
        torch_home = None  # a twin backbone's run needs no ImageNet file
        if request.backbone is not None:  # LeRobot's loop from a twin backbone
            options = _start_from_twin_backbone(request, options, Path(private_home), log)
        else:
            plan = _backbone(request, options, Path(private_home))
            log(plan.note)
            torch_home = plan.torch_home
        command = build_command(options)
        env = build_env(options, dict(os.environ), torch_home)
        progress = TrainProgress(
            total=end_step(options), start_step=start, log_freq=run_log_freq(options)
        )
        log((f"resuming at step {start}: " if start else "") + shlex.join(command))
        t0 = time.monotonic()
        lines = _follow(command, env, progress, write, interactive)
    seconds = time.monotonic() - t0
    checkpoint = options.output / "checkpoints" / "last" / "pretrained_model"
    _append_log(options.output, lines)
    if lines.returncode != 0:
        tail = "\n".join(list(lines.tail)[-25:])
        raise TrainError(
            f"LeRobot training failed (exit status {lines.returncode}); last output:\n{tail}"
        )
    if not checkpoint.is_dir():
        raise TrainError(f"training ended without a checkpoint in {checkpoint}")
    return TrainResult(options.output, checkpoint, checkpoint_step(options.output), seconds)


def frozen_run(request: TrainRequest, options: TrainOptions) -> bool:
    """Whether this run trains with a frozen backbone (on resume: whether the run did)."""
    marker = options.output / FROZEN_MARKER
    if request.backbone is not None and request.backbone_weights is not None:
        raise TrainError("--backbone-weights (ImageNet) and --backbone both start the ResNet18; "
                         "give one")  # fmt: skip
    if request.freeze_backbone or marker.is_file():
        if request.gpus > 1:
            raise TrainError("--freeze-backbone trains on one device; drop --gpus")
        if request.wandb:
            raise TrainError("--freeze-backbone logs to its own output, not Weights & Biases; "
                             "drop --wandb")  # fmt: skip
        if request.backbone_weights is not None:
            raise TrainError("--backbone-weights (ImageNet) is not used with --freeze-backbone; "
                             "give --backbone FILE")  # fmt: skip
    if request.resume:
        if request.freeze_backbone and not marker.is_file():
            raise TrainError(
                f"the run in {options.output} trains its backbone; resume it without "
                "--freeze-backbone (a run keeps its mode)"
            )
        if request.backbone is not None:
            raise TrainError("--backbone starts a new run; drop it when resuming")
        return marker.is_file()
    if request.freeze_backbone and request.backbone is None and options.pretrained_policy is None:
        raise TrainError(
            "--freeze-backbone keeps the backbone as it starts, so it must start trained: give "
            "--backbone FILE (make one with act-tool backbone) or -- --policy.path=CHECKPOINT"
        )
    return request.freeze_backbone


def _start_from_twin_backbone(
    request: TrainRequest, options: TrainOptions, folder: Path, log: Callable[[str], None]
) -> TrainOptions:
    """The options of a run that LeRobot starts from a policy holding the twin backbone."""
    from act_tool.train.command import settings
    from act_tool.train.init_checkpoint import write_init_checkpoint

    assert request.backbone is not None
    init = write_init_checkpoint(settings(options), request.backbone, folder / "init", log)
    return replace(options, extra=(*options.extra, f"--policy.path={init}"))


def _train_frozen(
    request: TrainRequest, options: TrainOptions, start: int, log: Callable[[str], None]
) -> TrainResult:
    from act_tool.train.frozen_loop import train_frozen

    settings = dict(_frozen_settings(options))
    bf16 = request.bf16
    if options.resume:  # a run keeps its precision
        marker = json.loads((options.output / FROZEN_MARKER).read_text())
        bf16 = bool(marker.get("bf16", False))
        if bf16:
            from act_tool.train.cpu_features import require_bf16

            require_bf16()
    if request.backbone is not None:
        from act_tool.train.twin_backbone import load_backbone

        load_backbone(request.backbone)  # a wrong file fails before the dataset is read
    log(("resuming " if start else "") + "frozen-backbone training: each frame's features once, "
        "then LeRobot's ACT on them")  # fmt: skip
    t0 = time.monotonic()
    run = train_frozen(settings, request.backbone, options.resume, bf16, log)
    checkpoint = options.output / "checkpoints" / "last" / "pretrained_model"
    log(f"features {run.cache_seconds:.0f} s; {run.step - start} steps at {run.step_ms:.1f} ms "
        "per step")  # fmt: skip
    return TrainResult(options.output, checkpoint, run.step, time.monotonic() - t0, frozen=True)


def _frozen_settings(options: TrainOptions) -> dict[str, str]:
    from act_tool.train.command import settings

    s = settings(options)
    s.pop("policy.use_amp", None)  # the frozen loop's own autocast (--bf16), not LeRobot's
    if not options.resume:
        s["policy.pretrained_backbone_weights"] = "null"  # the backbone comes from --backbone
    return s


@dataclass
class _Output:
    all: list[str]
    tail: deque
    returncode: int = 0


def _follow(
    command: list[str],
    env: dict[str, str],
    progress: TrainProgress,
    write: Callable[[str], None] | None,
    interactive: bool | None,
) -> _Output:
    """Run the command, feed its output to the progress display, keep it for the log."""
    if write is None:

        def write(text: str) -> None:
            sys.stderr.write(text)
            sys.stderr.flush()

    if interactive is None:
        interactive = sys.stderr.isatty()
    display = ProgressDisplay(progress, write, interactive)
    out = _Output(all=[], tail=deque(maxlen=200))
    try:
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0
        )
    except OSError as e:
        raise TrainError(f"cannot start LeRobot training ({command[0]}): {e}") from e
    rest = ""
    try:
        assert proc.stdout is not None
        while chunk := os.read(proc.stdout.fileno(), 65536):
            done, rest = split_output(rest + chunk.decode("utf-8", "replace"))
            for line in done:
                _keep(out, line)
                if progress.feed(line):
                    display.update()
        if rest:
            _keep(out, rest)
            progress.feed(rest)
        out.returncode = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        raise
    finally:
        display.close()
    return out


def _keep(out: _Output, line: str) -> None:
    line = TQDM_PREFIX.sub("", line)  # tqdm redraws: the progress display shows them
    if not line.strip():
        return
    out.all.append(line)
    out.tail.append(line)


def _append_log(output: Path, lines: _Output) -> None:
    if output.is_dir():
        with (output / LOG_NAME).open("a") as f:
            f.write("\n".join(lines.all) + "\n")
