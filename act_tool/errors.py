"""The act-tool error family. Every message says what went wrong and what to do next."""

from __future__ import annotations

import sys


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


# Extras that need a newer Python than the core's 3.10: LeRobot 0.6.1 needs 3.12, and the
# `export` extra installs nothing on an older Python (pyproject's environment markers).
PYTHON_FLOORS: dict[str, tuple[int, int]] = {"export": (3, 12)}


class MissingDependencyError(ActToolError):
    """An optional library that is not installed; the message names the extra to install (and,
    where this Python is too old for that extra, the Python it needs)."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        floor = PYTHON_FLOORS.get(extra)
        here = sys.version_info[:2]
        if floor and here < floor:
            need, have = ".".join(map(str, floor)), ".".join(map(str, here))
            message = (
                f"{purpose} needs the Python module '{module}' (the '{extra}' extra: LeRobot "
                f"0.6.1), which needs Python >= {need}; this is Python {have}. Train and export "
                f"in a Python {need} environment (python{need} -m venv .venv && .venv/bin/pip "
                f"install 'act-tool[{extra}]') and copy the artifacts here: run, eval of an "
                "exported artifact, emulate, bench --onnx/--engine and doctor work on this Python."
            )
        else:
            message = (
                f"{purpose} needs the Python module '{module}', which is not installed. "
                f"Install it with: pip install 'act-tool[{extra}]'"
            )
        super().__init__(message)
        self.module = module
        self.extra = extra


def require(module: str, extra: str, purpose: str):
    """Import `module` or raise MissingDependencyError naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(module, extra, purpose) from e
