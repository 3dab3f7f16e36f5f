"""The real chain, small: synthetic dataset -> LeRobot training -> checkpoint -> ONNX export;
then resume the run to more steps. Also `act-tool train` / `act-tool dataset synth` on the CLI."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from act_tool.cli import app
from act_tool.train.errors import TrainError
from act_tool.train.runner import LOG_NAME, TrainRequest, checkpoint_step, run_training

from .conftest import TINY_POLICY

pytestmark = pytest.mark.slow


def test_training_writes_a_lerobot_checkpoint(tiny_run):
    result, lines = tiny_run
    assert result.step == 2 == checkpoint_step(result.output)
    assert (result.checkpoint / "model.safetensors").is_file()
    assert (result.checkpoint / "policy_preprocessor.json").is_file()
    cfg = json.loads((result.checkpoint / "train_config.json").read_text())
    assert cfg["policy"]["pretrained_backbone_weights"] is None
    assert cfg["policy"]["push_to_hub"] is False and cfg["wandb"]["enable"] is False
    assert cfg["seed"] == 1000 and cfg["policy"]["optimizer_lr"] == 1e-5
    assert cfg["policy"]["dim_model"] == 32  # passthrough reached LeRobot
    assert any("step 2/2" in line and "loss" in line for line in lines)
    # LeRobot's trainer got its frames from memory (the same items: tests/train/test_frame_source)
    assert "frames decoded into memory" in (result.output / LOG_NAME).read_text()
    assert (result.output / LOG_NAME).is_file()
    assert result.export_command.startswith(f"act-tool export {result.checkpoint}")


def test_trained_checkpoint_exports(tiny_run, tmp_path):
    pytest.importorskip("onnx")
    from act_tool.export.pipeline import ExportOptions, run_export

    result, _ = tiny_run
    out = run_export(ExportOptions(result.checkpoint, tmp_path / "export", builder="onnx"))
    assert [p.name for p in out.artifacts] == ["act.onnx"]
    spec = json.loads((tmp_path / "export" / "act.onnx.json").read_text())
    assert spec["chunk_size"] == 5


def test_resume_continues_to_more_steps(tiny_run, tmp_path):
    result, _ = tiny_run
    run = tmp_path / "moved"
    shutil.copytree(result.output, run, symlinks=True)
    with pytest.raises(TrainError, match="already at step 2"):
        run_training(TrainRequest(output=run, resume=True, steps=2), log=lambda _: None)
    lines: list[str] = []
    resumed = run_training(
        TrainRequest(output=run, resume=True, steps=4, device="cpu"),
        log=lines.append,
        write=lines.append,
        interactive=False,
    )
    assert resumed.step == 4 == checkpoint_step(run)
    assert any("resuming at step 2" in line for line in lines)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["000002", "000004", "last"]
    assert checkpoint_step(result.output) == 2  # the original run is untouched


def test_resume_needs_no_imagenet_file(tiny_run, tmp_path, monkeypatch):
    """A run started from ImageNet weights resumes offline with an empty torch cache: the
    checkpoint holds the trained backbone. A proxy that refuses every connection makes any
    download attempt (by us or by torchvision in the training process) fail the test."""
    from act_tool.train import backbone

    result, _ = tiny_run
    run = tmp_path / "imagenet_run"
    shutil.copytree(result.output, run, symlinks=True)
    ckpt = run / "checkpoints" / "last" / "pretrained_model"
    for name, key in (("train_config.json", "policy"), ("config.json", None)):
        cfg = json.loads((ckpt / name).read_text())
        (cfg[key] if key else cfg)["pretrained_backbone_weights"] = "ResNet18_Weights.IMAGENET1K_V1"
        (ckpt / name).write_text(json.dumps(cfg))
    monkeypatch.setattr(backbone, "download_weights", None)  # calling it fails
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    resumed = run_training(
        TrainRequest(output=run, resume=True, steps=3, device="cpu"),
        log=lambda _: None,
        write=lambda _: None,
        interactive=False,
    )
    assert resumed.step == 3
    assert not (tmp_path / "empty_torch_home").exists()


def test_cli_train_refuses_bad_input_before_work(synth_dataset, tmp_path):
    runner = CliRunner()
    (tmp_path / "exists").mkdir()
    r = runner.invoke(
        app, ["train", "--dataset", str(synth_dataset), "-o", str(tmp_path / "exists")]
    )
    assert r.exit_code == 1 and "--resume" in r.output
    r = runner.invoke(app, ["train", "--dataset", str(tmp_path), "-o", str(tmp_path / "new")])
    assert r.exit_code == 1 and "not a LeRobot dataset" in r.output
    assert not (tmp_path / "new").exists()


def test_cli_train_end_to_end_prints_export_command(synth_dataset, tmp_path):
    out = tmp_path / "cli_run"
    args = ["train", "--dataset", str(synth_dataset), "-o", str(out), "--steps", "1"]
    args += ["--batch-size", "2", "--device", "cpu", "--no-pretrained-backbone", "--", *TINY_POLICY]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    ckpt = out / "checkpoints" / "last" / "pretrained_model"
    assert f"act-tool export {ckpt} -o {out / 'export'}" in r.output


def test_cli_dataset_synth(tmp_path):
    out = tmp_path / "ds"
    args = ["dataset", "synth", "-o", str(out), "--episodes", "1", "--frames", "16"]
    r = CliRunner().invoke(app, [*args, "--height", "32", "--width", "48"])
    assert r.exit_code == 0, r.output
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["total_episodes"] == 1 and info["total_frames"] == 16
    assert info["features"]["observation.images.front"]["shape"] == [32, 48, 3]
    r = CliRunner().invoke(app, [*args])
    assert r.exit_code == 1 and "already exists" in r.output


@pytest.mark.parametrize("offline", ["1", "0"])
def test_cli_train_without_backbone_weights_says_what_to_do(
    synth_dataset, tmp_path, monkeypatch, offline
):
    """Hermetic whatever the machine's network and HF_HUB_OFFLINE: the download fails (online)
    or is not tried (offline), and no training process may start."""
    from act_tool.train import backbone, runner

    def no_network(target, url=backbone.RESNET18_URL, timeout_s=30.0):
        raise OSError("no network (test)")

    def no_training(*args, **kwargs):
        raise AssertionError("training started without backbone weights")

    monkeypatch.setattr(backbone, "download_weights", no_network)
    monkeypatch.setattr(runner, "_follow", no_training)
    monkeypatch.setenv("HF_HUB_OFFLINE", offline)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["train", "--dataset", str(synth_dataset), "-o", str(out)])
    assert r.exit_code == 1, r.output
    assert "--backbone-weights" in r.output and "--no-pretrained-backbone" in r.output
    reason = "offline (HF_HUB_OFFLINE)" if offline == "1" else "download failed: no network (test)"
    assert reason in r.output
    assert not out.exists()


def test_backbone_weights_file_reaches_the_training_process(synth_dataset, tmp_path, monkeypatch):
    """--backbone-weights: the file is linked into a private TORCH_HOME and torchvision loads it
    from there (no network). A stand-in file (ResNet18 with marked batch-norm statistics) plays
    the ImageNet weights; its hash check is relaxed for the test."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from safetensors import safe_open

    from act_tool.train import backbone

    state = torchvision.models.resnet18().state_dict()
    state["bn1.running_mean"] = torch.arange(64, dtype=torch.float32) / 10
    weights = tmp_path / "resnet18_imagenet.pth"
    torch.save(state, weights)
    monkeypatch.setattr(backbone, "check_weights_file", lambda path: None)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    result = run_training(
        TrainRequest(
            output=tmp_path / "run",
            dataset=str(synth_dataset),
            steps=1,
            batch_size=2,
            device="cpu",
            backbone_weights=weights,
            extra=TINY_POLICY,
        ),
        log=lambda _: None,
        write=lambda _: None,
        interactive=False,
    )
    cfg = json.loads((result.checkpoint / "train_config.json").read_text())
    assert cfg["policy"]["pretrained_backbone_weights"] == "ResNet18_Weights.IMAGENET1K_V1"
    with safe_open(str(result.checkpoint / "model.safetensors"), "pt") as f:
        bn = f.get_tensor("model.backbone.bn1.running_mean")  # frozen: unchanged by training
    assert torch.equal(bn, state["bn1.running_mean"])
    assert not (tmp_path / "empty_torch_home").exists()  # nothing written to the user's cache


def test_lerobot_failure_is_reported_with_its_output(synth_dataset, tmp_path):
    request = TrainRequest(
        output=tmp_path / "run",
        dataset=str(synth_dataset),
        steps=1,
        device="cpu",
        pretrained_backbone=False,
        extra=("--policy.no_such_option=1",),
    )
    with pytest.raises(TrainError, match="(?s)LeRobot training failed.*no_such_option"):
        run_training(request, log=lambda _: None, write=lambda _: None, interactive=False)


def test_resume_refuses_other_data_or_settings(tiny_run, tmp_path):
    """Checked before LeRobot starts: the run is left as it was."""
    result, _ = tiny_run
    for request, message in [
        (TrainRequest(output=result.output, resume=True, steps=4, batch_size=99), "batch size"),
        (
            TrainRequest(
                output=result.output, resume=True, steps=4, extra=("--policy.dim_model=64",)
            ),
            r"started with --policy.dim_model=32, not 64",
        ),
    ]:
        with pytest.raises(TrainError, match=message):
            run_training(request, log=lambda _: None)
    assert checkpoint_step(result.output) == 2
