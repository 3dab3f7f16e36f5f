"""Errors of `act-tool train` and `act-tool dataset`; each says what to do next."""

from __future__ import annotations

from act_tool.errors import ActToolError


class DatasetError(ActToolError):
    """A dataset that is missing, malformed, or lacks what ACT needs; or cannot be written."""


class TrainError(ActToolError):
    """Training options that cannot work, or a training run that failed."""
