"""Errors of the digital twin; each says what to do next."""

from __future__ import annotations

from act_tool.errors import ActToolError


class SimError(ActToolError):
    """Base class of the twin's errors."""


class UnreachableError(SimError):
    """A target the arm cannot reach within its joint limits."""


class RenderError(SimError):
    """Offscreen rendering that cannot start (no OpenGL library, no display) or a bad request."""
