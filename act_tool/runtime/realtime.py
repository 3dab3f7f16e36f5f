"""Real-time priority for the control thread (Linux SCHED_FIFO), where the system permits it.

Under the normal policy a tick that wakes while a camera, log or inference thread holds its core
waits for the scheduler to switch (up to about a millisecond on a busy core); a SCHED_FIFO
thread takes the core at once. Only the control thread is raised, once every other thread of the
run exists (a new thread inherits its creator's policy), and it is put back when the loop ends.
The kernel still throttles real-time threads to 95 % of each second by default, so a runaway
loop cannot lock up a core. Unprivileged users need an rtprio limit; without one the loop runs at
normal priority and says how to allow it.

    restore, note = raise_priority(40)
    try:
        ...
    finally:
        if restore is not None:
            restore()
"""

from __future__ import annotations

import os
from collections.abc import Callable

DEFAULT_PRIORITY = 40  # below the 50 of a PREEMPT_RT kernel's interrupt threads


def raise_priority(priority: int) -> tuple[Callable[[], None] | None, str]:
    """Give the calling thread SCHED_FIFO `priority` (1..99; 0: leave it). Returns a callable
    that restores the thread's previous policy (None when nothing changed) and a line for the
    log saying what happened."""
    if priority <= 0:
        return None, "normal priority (--rt-priority 0)"
    if not 1 <= priority <= 99:
        raise ValueError(f"real-time priority must be in 1..99 (0: normal), got {priority}")
    if not hasattr(os, "sched_setscheduler") or not hasattr(os, "SCHED_FIFO"):
        return None, "normal priority (real-time scheduling is available on Linux only)"
    try:
        policy = os.sched_getscheduler(0)  # 0: the calling thread, on Linux
        param = os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except PermissionError:
        return None, (
            "normal priority: this user may not use real-time scheduling. To allow it, add "
            f"'<user> - rtprio {priority}' to /etc/security/limits.conf and log in again (or run "
            "`ulimit -r` as root first); --rt-priority 0 silences this note"
        )
    except OSError as e:  # e.g. a container without CAP_SYS_NICE reports EPERM as OSError
        return None, f"normal priority (real-time scheduling refused: {e})"

    def restore() -> None:
        os.sched_setscheduler(0, policy, param)

    return restore, f"real-time priority for the control thread (SCHED_FIFO {priority})"


def permitted(priority: int) -> bool:
    """Whether the calling thread may use SCHED_FIFO `priority` (0: False): tried, and put back
    at once. Decides things that must be set before the loop raises its priority."""
    if priority <= 0:
        return False
    restore, _ = raise_priority(priority)
    if restore is None:
        return False
    restore()
    return True
