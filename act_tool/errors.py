"""The act-tool error family. Every message says what went wrong and what to do next."""

from __future__ import annotations


class ActToolError(Exception):
    """Base class: the CLI prints these without a traceback and exits with status 1."""


class CheckpointError(ActToolError):
    """A checkpoint path that is missing, truncated, not ACT, or lacks statistics."""


class SpecError(ActToolError):
    """A spec JSON that is missing, malformed, or does not match the artifact or machine."""


class ParityError(ActToolError):
    """An exported model whose actions differ from LeRobot's beyond the allowed bound."""

    def __init__(self, message: str, report: str = "") -> None:
        super().__init__(f"{message}\n{report}" if report else message)
        self.report = report


class BuilderError(ActToolError):
    """A TensorRT builder that is missing, unsupported on this machine, or failed to build."""


class MissingDependencyError(ActToolError):
    """An optional library that is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python module '{module}', which is not installed. "
            f"Install it with: pip install 'act-tool[{extra}]'"
        )
        self.module = module
        self.extra = extra


def require(module: str, extra: str, purpose: str):
    """Import `module` or raise MissingDependencyError naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(module, extra, purpose) from e
