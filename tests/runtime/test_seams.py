"""The seams a new arm, camera source or backend plugs into: each registered from here, as a
new module would register itself, and a whole `run` session goes through all three."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

import numpy as np
import pytest

from act_tool.errors import ActToolError
from act_tool.hw.camera_sources import (
    CameraConfig,
    CameraSource,
    SourceKind,
    register_source_kind,
    source_help,
    unregister_source_kind,
)
from act_tool.runtime.arm_kinds import ArmKind, ArmOptions, ArmRequest, Robot, port_words
from act_tool.runtime.loop_config import LoopConfig
from act_tool.runtime.runners import register_backend, unregister_backend
from act_tool.runtime.session import RunOptions, run
from act_tool.spec import spec_path
from act_tool.testing.arm_kinds import registered
from act_tool.testing.fakes import FakeArm
from act_tool.testing.specs import make_spec


class StripesReader:
    """A camera source of this test: horizontal stripes whose phase moves one row a frame."""

    def __init__(
        self, name: str, source: CameraSource, config: CameraConfig, context: Mapping[str, Any]
    ) -> None:
        self.fps: float | None = config.fps
        self.frame = 0
        self.opened_with = dict(context)

    def read_into(self, buf: np.ndarray) -> bool:
        rows = (np.arange(buf.shape[0]) + self.frame) % 2
        buf[...] = (rows * 255).astype(np.uint8)[:, None, None]
        self.frame += 1
        return True

    def close(self) -> None:
        pass


@pytest.fixture
def stripes() -> Any:
    readers: list[StripesReader] = []

    def opener(name, source, config, context) -> StripesReader:
        readers.append(StripesReader(name, source, config, context))
        return readers[-1]

    register_source_kind(
        SourceKind("stripes", "stripes", lambda t: t == "stripes", lambda t, _: CameraSource("stripes"), opener)
    )  # fmt: skip
    try:
        yield readers
    finally:
        unregister_source_kind("stripes")


@pytest.fixture
def fake_backend() -> Any:
    register_backend("fake", "act_tool.testing.fake_backend")
    try:
        yield "fake"
    finally:
        unregister_backend("fake")


def test_a_session_with_a_registered_arm_source_and_backend(tmp_path, stripes, fake_backend):
    artifact = tmp_path / "act.fake"
    artifact.write_bytes(b"weights of a model no library reads")
    make_spec(cameras=(("front", 12, 16), ("handeye", 12, 16))).write(spec_path(artifact))
    arms: list[FakeArm] = []

    def factory(request: ArmRequest, stack: ExitStack, log) -> Robot:
        arms.append(FakeArm())
        return Robot(arms[-1], default_source="stripes", camera_context={"scene": "cell 1"})

    kind = ArmKind("fake_so101", "so101_follower", "fake", factory, needs_calibration=False)
    with registered(kind):
        assert "fake" in port_words() and "stripes" in source_help()
        summary = run(
            RunOptions(
                artifact,
                ArmOptions("fake"),
                backend="fake",
                loop=LoopConfig(max_ticks=12),
                skip_self_check=True,  # a made-up artifact: no check file
            ),
            log=lambda _m: None,
        )
    arm = arms[0]
    assert summary.ticks == 12 and summary.inferences == 3  # chunks of 5: ticks 0, 5, 10
    assert len(arm.sent) == 12 and all(np.all(g == 2.0) for g in arm.sent)
    assert not arm.torque and not arm.connected  # the session's guard closed it
    assert [r.opened_with for r in stripes] == [{"scene": "cell 1"}] * 2  # both cameras
    assert all(r.frame > 1 for r in stripes)


def test_a_policy_for_another_robot_type_is_refused(tmp_path, fake_backend):
    artifact = tmp_path / "act.fake"
    artifact.write_bytes(b"x")
    make_spec(robot_type="koch_follower").write(spec_path(artifact))
    opened: list[str] = []

    def factory(request: ArmRequest, stack: ExitStack, log) -> Robot:
        opened.append("arm")
        return Robot(FakeArm(), default_source="synthetic")

    with (
        registered(ArmKind("fake_so101", "so101_follower", "fake", factory)),
        pytest.raises(ActToolError, match="trained for a 'koch_follower' arm"),
    ):
        run(RunOptions(artifact, ArmOptions("fake", robot_id="x"), backend="fake"))
    assert opened == []  # refused before the arm was reached


def test_unknown_source_kinds_and_taken_port_words_are_refused():
    from act_tool.hw.camera_sources import open_reader
    from act_tool.runtime.arm_kinds import register_arm_kind

    with pytest.raises(ActToolError, match="unknown source kind 'nope'"):
        open_reader("front", CameraSource("nope"), CameraConfig())
    with pytest.raises(ActToolError, match="already selects"):
        register_arm_kind(ArmKind("other", "so101_follower", "emulated", "x:y"))
