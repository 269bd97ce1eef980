"""PostgreSQL's LISTEN/NOTIFY as the queue's doorbell, so idle workers need not poll.

Every statement that inserts jobs makes PostgreSQL send ``NOTIFY gitops_bot_jobs`` when its
transaction commits (a trigger, migration 0012), whichever process or replica inserted them.
:class:`JobNotifications` keeps one connection per process listening on that channel, in a
thread of its own, and rings ``on_notify`` (the worker pool's wake-up) for each notification
naming its own schema (another bot may share the database in a schema of its own).

Other channels can be heard on the same connection (:meth:`JobNotifications.subscribe`): the
scheduler's due-analysis check hears ``gitops_bot_analyses`` (migration 0013) there.

A notification is a hint, never the only path: the pool still computes when the next queued
job or expired lease falls due, and polls at a long interval as a safety net. While the
listening connection is down (PostgreSQL restarting, a pooler that does not pass LISTEN
through), :attr:`listening` is False, the pool polls at its short interval, and the thread
reconnects every few seconds; once back it rings once, for whatever was added meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from collections.abc import Callable

import structlog
from sqlalchemy.engine import make_url

log = structlog.get_logger("gitops_bot.queue")

CHANNEL = "gitops_bot_jobs"
APPLICATION_NAME = "gitops-bot job notifications"
# How often the listening thread looks up from the socket to see whether it should stop.
STOP_CHECK_SECONDS = 2.0


def libpq_conninfo(database_url: str) -> str:
    """The SQLAlchemy URL as libpq reads it (``postgresql+psycopg://…`` → ``postgresql://…``),
    its query (``options=-csearch_path=…``, ``sslmode``) kept."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class JobNotifications:
    def __init__(
        self,
        database_url: str,
        on_notify: Callable[[], None],
        *,
        reconnect_seconds: float = 5.0,
        connect_timeout_seconds: int = 5,
        application_name: str = APPLICATION_NAME,
    ) -> None:
        self._conninfo = libpq_conninfo(database_url)
        self._reconnect_seconds = reconnect_seconds
        self._connect_timeout = connect_timeout_seconds
        self._application_name = application_name
        self._stopping = threading.Event()
        # Written to by stop(): the listening thread's select returns at once, not after a timeout.
        self._stop_read, self._stop_write = -1, -1
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._callbacks: dict[str, Callable[[], None]] = {CHANNEL: on_notify}

    def subscribe(self, channel: str, callback: Callable[[], None]) -> None:
        """Also call ``callback`` (in the listening thread) for notifications on ``channel`` naming
        this bot's schema, and once on each (re)connection. Call before :meth:`start`."""
        if not channel.isidentifier():
            raise ValueError(f"not a channel name: {channel!r}")
        self._callbacks[channel] = callback

    @property
    def listening(self) -> bool:
        """True while a connection listens: only then may the pool rely on being told."""
        return self._listening.is_set()

    def start(self) -> None:
        self._stopping.clear()
        self._stop_read, self._stop_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="gitops-bot-job-notifications", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            os.write(self._stop_write, b"x")
        if self._thread is not None:
            self._thread.join(timeout=STOP_CHECK_SECONDS + self._connect_timeout + 1)
            self._thread = None
            for descriptor in (self._stop_read, self._stop_write):
                with contextlib.suppress(OSError):
                    os.close(descriptor)
            self._stop_read, self._stop_write = -1, -1

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as exc:  # a dropped connection, a refused LISTEN: reconnect later
                if not self._stopping.is_set():
                    log.warning("queue.notifications_down", error=str(exc), retry_in=self._reconnect_seconds)
            finally:
                self._listening.clear()
            self._stopping.wait(self._reconnect_seconds)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            application_name=self._application_name,  # how an operator tells it apart in pg_stat_activity
        ) as conn:
            row = conn.execute("SELECT current_schema()").fetchone()
            schema = row[0] if row else None  # where this bot's jobs table is (the search path)
            for channel in self._callbacks:
                conn.execute(f"LISTEN {channel}")
            # Ring for what was written while nobody listened, then say we listen: once
            # wait_listening returns, that ring has been given.
            for callback in self._callbacks.values():
                callback()
            self._listening.set()
            # Wait on the socket itself: psycopg's own notifies(timeout=…) wakes ten times a
            # second to look, which is most of what an idle bot would spend.
            pgconn = conn.pgconn
            while not self._stopping.is_set():
                readable, _, _ = select.select([pgconn.socket, self._stop_read], [], [], STOP_CHECK_SECONDS)
                if pgconn.socket not in readable:
                    continue
                pgconn.consume_input()  # raises when the server closed the connection
                rung: set[str] = set()
                while (notification := pgconn.notifies()) is not None:
                    if notification.extra.decode("utf-8", "replace") in ("", schema):
                        rung.add(notification.relname.decode("utf-8", "replace"))
                for channel in rung:
                    callback = self._callbacks.get(channel)
                    if callback is not None:
                        callback()
