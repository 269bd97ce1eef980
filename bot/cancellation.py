"""A job's "stop now" signal, seen by the adapters that start child processes.

The worker sets ``current_stop`` to the job's ``HandlerContext.cancelled`` event for the
handler's thread (and the event loops it runs), so the Terraform runner can stop its process
group the moment the job's lease is lost or taken over by another worker, instead of letting
two Terraforms run the same command, or the job is cancelled (``/gitops cancel``, seen by the
worker's heartbeat in the job's row). It is a context variable, not a global: each handler
thread, and every task started from it, sees its own job's event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

current_stop: ContextVar[threading.Event | None] = ContextVar("gitops_bot_current_stop", default=None)

T = TypeVar("T")


class JobCancelled(Exception):
    """The job lost its lease, or was cancelled, while a child process ran; the process was stopped."""


def run_with_stop(stop: threading.Event, func: Callable[..., T], *args: object) -> T:
    """Call ``func(*args)`` with ``current_stop`` set to ``stop`` (in the calling thread)."""
    token = current_stop.set(stop)
    try:
        return func(*args)
    finally:
        current_stop.reset(token)


def stop_requested() -> bool:
    stop = current_stop.get()
    return stop is not None and stop.is_set()
