"""When the leader's per-second check for due analyses must read the database, and when it may not.

The scheduler asks every second whether an analysis is due (:mod:`bot.deployments.due_steps`).
Nearly always none is, and the answer cannot change until the earliest ``next_run_at`` the last
read saw comes, or something writes an analysis. An idle bot spent about a third of its CPU on
that read, so the check remembers what it learned and reads again only when one of these rules
says so, in order:

1. ``first``: nothing was read yet in this process;
2. ``unwatched``: nobody tells this process about writes (PostgreSQL without a listening
   connection, an in-memory SQLite database): read every time, as before;
3. ``signalled``: PostgreSQL said an analysis changed (``NOTIFY gitops_bot_analyses``, sent by a
   trigger on every statement that writes one, migration 0013, from any process or replica);
4. ``written``: the SQLite file changed since the last read (its change token; any process);
5. ``due``: the earliest ``next_run_at`` seen has come;
6. ``safety``: the last read is ``SAFETY_READ_SECONDS`` old: a safety net, not a path;
7. otherwise: skip.

Pure: the state is handed in and the caller does the reading. A signal is cleared *before* the
read and a change token taken *before* it, so a write that lands during the read is read next time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ANALYSES_CHANNEL = "gitops_bot_analyses"
SAFETY_READ_SECONDS = 30.0

ReadReason = Literal["first", "unwatched", "signalled", "written", "due", "safety"]


@dataclass(frozen=True)
class LastRead:
    """What the last read learned, and what the database looked like when it began."""

    earliest: datetime | None  # the earliest next_run_at of an active analysis; None: none is active
    token: tuple[int, ...] | None  # the SQLite change token taken before it
    at: float  # monotonic seconds


def read_reason(
    last: LastRead | None,
    *,
    now: datetime,
    monotonic: float,
    token: tuple[int, ...] | None,
    listening: bool,
    signalled: bool,
) -> ReadReason | None:
    """Why the check must read now (the rules of this module), or None to skip."""
    if last is None:
        return "first"
    if token is None and not listening:
        return "unwatched"
    if signalled:
        return "signalled"
    if token is not None and token != last.token:
        return "written"
    if last.earliest is not None and last.earliest <= now:
        return "due"
    if monotonic - last.at >= SAFETY_READ_SECONDS:
        return "safety"
    return None


class DueCheckState:
    """One process's memory of the due check, and the doorbell PostgreSQL's listener rings.

    The listener's thread calls :meth:`changed`; the scheduler's task thread calls the rest."""

    def __init__(self) -> None:
        self._signal = threading.Event()
        self._is_listening: Callable[[], bool] | None = None
        self.last: LastRead | None = None

    def changed(self) -> None:
        """An analysis was written somewhere (thread-safe)."""
        self._signal.set()

    def watch(self, is_listening: Callable[[], bool]) -> None:
        """Rely on notifications while ``is_listening()`` (the listener's connection is up)."""
        self._is_listening = is_listening

    @property
    def listening(self) -> bool:
        return self._is_listening is not None and self._is_listening()

    def take_signal(self) -> bool:
        """Whether a change was signalled since the last call; clears it. Only a signal seen is
        cleared: one that lands between the look and the clear is kept for the next call."""
        if not self._signal.is_set():
            return False
        self._signal.clear()
        return True


__all__ = [
    "ANALYSES_CHANNEL",
    "SAFETY_READ_SECONDS",
    "DueCheckState",
    "LastRead",
    "ReadReason",
    "read_reason",
]
