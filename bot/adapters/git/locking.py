"""A per-repository lock that holds across threads *and* processes: ``flock`` on a file.

``flock`` locks belong to an open file description, so two threads of one process that each open
the lock file exclude each other exactly like two processes do. The lock file is never deleted:
unlinking it while another job waits on the old inode would let two jobs in at once.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.adapters.git.errors import MirrorLockTimeout


@contextmanager
def file_lock(path: Path, *, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    Not re-entrant: taking it again in the same thread waits for itself until ``timeout``.
    Raises :class:`MirrorLockTimeout` when the lock stays busy for ``timeout`` seconds.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.002
        # Polling with a non-blocking flock rather than a blocking one: a blocked flock cannot time
        # out, and a job stuck forever behind a wedged one is worse than a clear error.
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise MirrorLockTimeout(f"lock {path} still busy after {timeout:g} s") from None
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
