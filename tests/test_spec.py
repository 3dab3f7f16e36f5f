"""EngineSpec: JSON round trip, validation, sha256 checks, atomic writes."""

from __future__ import annotations

import json

import pytest

from act_tool.errors import SpecError
from act_tool.spec import CameraSpec, EngineSpec, sha256_file, spec_path


def make_spec(**changes) -> EngineSpec:
    fields = dict(
        artifact="act.onnx",
        cameras=(
            CameraSpec("observation.images.front", 480, 640),
            CameraSpec("observation.images.handeye", 480, 640, "rgb"),
        ),
        state_names=tuple(f"j{i}.pos" for i in range(6)),
        action_names=tuple(f"j{i}.pos" for i in range(6)),
        units="degrees",
        fps=30,
        chunk_size=100,
        n_action_steps=100,
        temporal_ensemble_coeff=None,
        state_min=(-1.0,) * 6,
        state_max=(1.0,) * 6,
        action_min=(-2.0,) * 6,
        action_max=(2.0,) * 6,
        parity={"fp32_onnx": {"random": {"worst_rel": 1e-6}}},
    )
    fields.update(changes)
    return EngineSpec(**fields)


def test_round_trip(tmp_path):
    spec = make_spec(temporal_ensemble_coeff=0.01, n_action_steps=1, precision="fp16")
    path = tmp_path / "act.onnx.json"
    spec.write(path)
    assert EngineSpec.read(path) == spec
    assert spec_path(tmp_path / "act.plan").name == "act.plan.json"
    assert spec.input_names == [
        "observation.images.front",
        "observation.images.handeye",
        "observation.state",
    ]
    assert spec.cameras[1].name == "handeye"


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(units="radians"), "units"),
        (dict(precision="int4"), "precision"),
        (dict(builder="tvm"), "builder"),
        (dict(cameras=()), "at least one camera"),
        (dict(state_min=(0.0,)), "one value per state name"),
        (dict(n_action_steps=101), "n_action_steps"),
        (dict(fps=0), "fps"),
        (dict(action_min=(0.0,)), "action_min/action_max"),
        (dict(action_min=(), action_max=(1.0,) * 6), "action_min/action_max"),
        (dict(action_min=(3.0,) * 6), "must not exceed"),
    ],
)
def test_invalid_fields(changes, message):
    with pytest.raises(SpecError, match=message):
        make_spec(**changes)


def test_bad_camera():
    with pytest.raises(SpecError, match="channel_order"):
        CameraSpec("observation.images.front", 480, 640, "yuv")


def test_read_errors(tmp_path):
    with pytest.raises(SpecError, match="spec file missing"):
        EngineSpec.read(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SpecError, match="not valid JSON"):
        EngineSpec.read(bad)
    data = json.loads(make_spec().to_json())
    data["format_version"] = 99
    bad.write_text(json.dumps(data))
    with pytest.raises(SpecError, match="format version"):
        EngineSpec.read(bad)
    del data["fps"]
    data["format_version"] = 2
    bad.write_text(json.dumps(data))
    with pytest.raises(SpecError, match="malformed"):
        EngineSpec.read(bad)


def test_sha256_binds_spec_to_artifact(tmp_path):
    artifact = tmp_path / "act.onnx"
    artifact.write_bytes(b"model bytes")
    spec = make_spec().with_artifact(artifact)
    assert spec.sha256 == sha256_file(artifact)
    spec.verify_artifact(artifact)
    artifact.write_bytes(b"other bytes")
    with pytest.raises(SpecError, match="does not match its spec"):
        spec.verify_artifact(artifact)


def test_write_leaves_no_temporary(tmp_path):
    make_spec().write(tmp_path / "act.onnx.json")
    assert [p.name for p in tmp_path.iterdir()] == ["act.onnx.json"]


def test_format_1_specs_still_load_without_an_action_range(tmp_path):
    """Specs written before the action range existed (format 1) load, with the range empty."""
    data = json.loads(make_spec().to_json())
    assert data["format_version"] == 5 and data["action_min"] == [-2.0] * 6
    del data["action_min"], data["action_max"], data["robot_type"]
    del data["check_file"], data["check_sha256"]
    data["format_version"] = 1
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    spec = EngineSpec.read(path)
    assert (spec.action_min, spec.action_max, spec.format_version) == ((), (), 1)
    assert spec.state_min == (-1.0,) * 6
    assert spec.robot_type == ""  # unknown: run says so and goes on


def test_format_2_specs_load_without_a_robot_type(tmp_path):
    data = json.loads(make_spec(robot_type="so101_follower").to_json())
    assert data["robot_type"] == "so101_follower"
    del data["robot_type"], data["check_file"], data["check_sha256"]
    data["format_version"] = 2
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(data))
    spec = EngineSpec.read(path)
    assert (spec.robot_type, spec.format_version, spec.action_min) == ("", 2, (-2.0,) * 6)


def test_flops_is_optional_and_round_trips(tmp_path):
    """Specs written before the FLOP count existed load with flops None."""
    path = tmp_path / "act.onnx.json"
    make_spec(flops=123_456_789).write(path)
    assert EngineSpec.read(path).flops == 123_456_789
    data = json.loads(make_spec().to_json())
    assert data["flops"] is None
    del data["flops"]
    path.write_text(json.dumps(data))
    assert EngineSpec.read(path).flops is None


def test_format_3_specs_load_without_a_check_file(tmp_path):
    """Specs written before check files existed (format 3) load with no check file named."""
    data = json.loads(make_spec(check_file="act.onnx.check.npz", check_sha256="ab" * 32).to_json())
    assert (data["format_version"], data["check_file"]) == (5, "act.onnx.check.npz")
    del data["check_file"], data["check_sha256"]
    data["format_version"] = 3
    path = tmp_path / "v3.json"
    path.write_text(json.dumps(data))
    spec = EngineSpec.read(path)
    assert (spec.check_file, spec.check_sha256, spec.format_version) == ("", "", 3)


def test_format_4_specs_load_without_a_calibration(tmp_path):
    """Specs written before INT8 existed (format 4) load with no calibration set; an INT8 spec
    round-trips its calibration and precision."""
    cal = {"dataset": "/data/sim", "frames": 32, "episodes": 4, "method": "minmax"}
    path = tmp_path / "act.int8.onnx.json"
    make_spec(precision="int8", calibration=cal).write(path)
    spec = EngineSpec.read(path)
    assert (spec.precision, spec.calibration, spec.format_version) == ("int8", cal, 5)
    data = json.loads(make_spec().to_json())
    del data["calibration"]
    data["format_version"] = 4
    path.write_text(json.dumps(data))
    spec = EngineSpec.read(path)
    assert (spec.calibration, spec.format_version, spec.precision) == ({}, 4, "fp32")
