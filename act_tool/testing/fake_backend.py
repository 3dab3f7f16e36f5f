"""A backend module for tests: `--backend fake` (once registered) opens a FakeRunner on the spec
beside any file, so a session runs without an inference library."""

from __future__ import annotations

from pathlib import Path

from act_tool.runtime.runners.options import RunnerOptions
from act_tool.spec import EngineSpec
from act_tool.testing.fakes import FakeRunner


def create(artifact: Path, spec: EngineSpec, options: RunnerOptions) -> FakeRunner:
    return FakeRunner(spec, chunk_value=2.0)
