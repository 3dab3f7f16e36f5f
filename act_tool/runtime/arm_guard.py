"""Connect an arm and leave it with torque off whatever ends the session, for any arm kind.

`with torque_guard(arm):` enters the arm (connect; torque on unless a dry run) and exits it
(torque off, port closed) on every path. On the main thread it also makes SIGTERM unwind like
Ctrl-C does (SystemExit 128 + 15, so `finally` blocks and the arm's exit run), and holds back a
Ctrl-C or SIGTERM that arrives while the arm closes: torque off is never cut short, and the
signal is delivered to the handler from before, once the arm is closed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from types import FrameType
from typing import Any, TypeVar

A = TypeVar("A", bound=AbstractContextManager[Any])
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _unwind(signum: int, frame: FrameType | None) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def _install(handler: Any) -> dict[int, Any]:
    """Set `handler` for SIGINT and SIGTERM; returns what they had. Main thread only (signal
    handlers can only be set there): elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, handler) for sig in SIGNALS}


def _restore(handlers: dict[int, Any]) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, signal.SIG_DFL if handler is None else handler)


@contextmanager
def torque_guard(arm: A) -> Iterator[A]:  # noqa: UP047 (the core runs on Python 3.10)
    """Enter `arm` and exit it (torque off) however the block ends; see the module docstring."""
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        if signum not in pending:
            pending.append(signum)

    before = _install(_unwind)
    try:
        arm.__enter__()
        try:
            yield arm
        finally:
            _install(hold)  # nothing interrupts torque off
            arm.__exit__(None, None, None)
    finally:
        _restore(before)
        for sig in pending:  # to the handlers from before, now that the arm is closed
            signal.raise_signal(sig)
