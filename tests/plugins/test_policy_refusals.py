"""The plugin's refusals, each before anything can move: the folder (spec, backend, file), the
robot (joints, cameras), the LeRobot version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from act_tool.runtime import artifact_folder
from act_tool.runtime.artifact_folder import ArtifactFolderError, choose_artifact
from act_tool.runtime.preflight import PreflightError
from act_tool.spec import EngineSpec


def _folder(tmp_path: Path, bench_onnx: Path, *names: str) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    for name in names:
        shutil.copy(bench_onnx.parent / name, folder / name)
    return folder


def test_auto_takes_the_first_installed_backend_with_its_file(tmp_path, bench_onnx, monkeypatch):
    folder = _folder(tmp_path, bench_onnx, "act.onnx", "act.onnx.json")
    (folder / "act.plan").write_bytes(b"plan")
    (folder / "act.plan.json").write_text("{}")
    monkeypatch.setattr(artifact_folder, "library_installed", lambda b: b != "tensorrt")
    assert choose_artifact(folder) == (folder / "act.onnx", "onnxruntime")
    monkeypatch.setattr(artifact_folder, "library_installed", lambda b: True)
    assert choose_artifact(folder) == (folder / "act.plan", "tensorrt")
    assert choose_artifact(folder, "openvino") == (folder / "act.onnx", "openvino")


def test_a_named_backend_without_its_file_says_how_to_make_it(tmp_path, bench_onnx):
    folder = _folder(tmp_path, bench_onnx, "act.onnx", "act.onnx.json")
    with pytest.raises(ArtifactFolderError, match="it runs act.plan.*act-tool engine"):
        choose_artifact(folder, "tensorrt")


def test_an_artifact_without_its_spec_is_refused(tmp_path, bench_onnx):
    folder = _folder(tmp_path, bench_onnx, "act.onnx")
    with pytest.raises(ArtifactFolderError, match=r"no spec beside it \(act.onnx.json\)"):
        choose_artifact(folder)


def test_an_empty_folder_says_how_to_export(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactFolderError, match="act-tool export CHECKPOINT --output"):
        choose_artifact(tmp_path / "empty")


def test_a_backend_not_installed_names_the_extra(
    tmp_path, bench_onnx, monkeypatch, plugins_imported
):
    """The runner module raises MissingDependencyError; the plugin passes it on unchanged."""
    import sys

    from act_tool.errors import MissingDependencyError
    from act_tool.lerobot_policy.engine_policy import EngineChoice, EnginePolicy

    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` now fails
    folder = bench_onnx.parent
    with pytest.raises(MissingDependencyError, match=r"act-tool\[openvino\]"):
        EnginePolicy(EngineChoice(folder, backend="openvino"), log=lambda _: None)


def _features(spec: EngineSpec, joints=None, size=None) -> dict:
    features = {
        f"{j}.pos": float for j in (joints or [n.removesuffix(".pos") for n in spec.state_names])
    }
    for cam in spec.cameras:
        features[cam.name] = size or (cam.height, cam.width, 3)
    return features


def test_robot_features_match_or_are_refused(bench_onnx):
    from act_tool.lerobot_policy.robot_match import check_robot_features

    spec = EngineSpec.read(bench_onnx.with_name("act.onnx.json"))
    check_robot_features(spec, _features(spec))
    joints = [n.removesuffix(".pos") for n in spec.state_names]
    with pytest.raises(PreflightError, match="same joints in another order"):
        check_robot_features(spec, _features(spec, joints=joints[::-1]))
    with pytest.raises(PreflightError, match="reports 5 joints"):
        check_robot_features(spec, _features(spec, joints=joints[:5]))
    with pytest.raises(PreflightError, match="configured for 64x48"):
        check_robot_features(spec, _features(spec, size=(48, 64, 3)))
    renamed = {k if not isinstance(v, tuple) else f"cam_{k}": v for k, v in _features(spec).items()}
    with pytest.raises(PreflightError, match="--rename_map"):
        check_robot_features(spec, renamed)
    rename = {f"observation.images.cam_{c.name}": c.key for c in spec.cameras}
    check_robot_features(spec, renamed, rename)
    check_robot_features(spec, _features(spec), units=spec.units)
    with pytest.raises(PreflightError, match="--robot.use_degrees=true"):
        check_robot_features(spec, _features(spec), units="range")


def test_another_lerobot_version_is_refused_before_loading(
    bench_onnx, monkeypatch, plugins_imported
):
    import lerobot
    from lerobot_policy_act_tool.modeling_act_tool import ActToolPolicy

    from act_tool.lerobot_policy.lerobot_context import LeRobotVersionError

    monkeypatch.setattr(lerobot, "__version__", "0.7.0")
    with pytest.raises(LeRobotVersionError, match="built for LeRobot 0.6.x.*lerobot==0.6.1"):
        ActToolPolicy.from_pretrained(bench_onnx.parent)
