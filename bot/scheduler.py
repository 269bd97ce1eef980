"""The scheduler: periodic tasks run by exactly one process at a time.

Replicas elect a leader through a row in ``scheduler_leases``: a single
``INSERT … ON CONFLICT DO UPDATE … WHERE`` takes the lease when it is free, expired, or
already ours, so the decision is atomic on SQLite and PostgreSQL alike. The leader
renews the lease every third of its period (not every tick: an idle leader should cost
nothing); a replica that is not the leader asks as often. If the leader dies, another replica
takes over once the lease expires: within one lease period and a third. Periodic tasks should
enqueue jobs with dedupe keys, so even the short overlap of a paused-then-resumed old leader
cannot double any work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import or_

from bot.routing import PeriodicTask
from bot.storage.db import Database
from bot.storage.models import SchedulerLease
from bot.storage.statements import upsert
from bot.storage.types import utcnow

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.scheduler")


class LeaderLease:
    def __init__(self, database: Database, name: str = "scheduler", *, ttl_seconds: float = 15.0) -> None:
        self.database = database
        self.name = name
        self.ttl = timedelta(seconds=ttl_seconds)

    def try_acquire(self, holder: str) -> bool:
        """Take or renew the lease; True when ``holder`` is the leader afterwards."""
        now = utcnow()
        table = SchedulerLease.__table__
        renewal = {"holder": holder, "expires_at": now + self.ttl, "renewed_at": now}
        statement = (
            upsert(
                self.database.dialect,
                SchedulerLease,
                conflict=["name"],
                update=renewal,
                where=or_(table.c.holder == holder, table.c.expires_at < now),
            )
            .values(name=self.name, **renewal)
            .returning(SchedulerLease.holder)
        )
        with self.database.transaction() as session:
            row = session.execute(statement).first()
        return row is not None and row.holder == holder

    def release(self, holder: str) -> None:
        with self.database.transaction() as session:
            lease = session.get(SchedulerLease, self.name)
            if lease is not None and lease.holder == holder:
                session.delete(lease)

    def holder(self) -> str | None:
        with self.database.sessions() as session:
            lease = session.get(SchedulerLease, self.name)
            if lease is None or lease.expires_at < utcnow():
                return None
            return lease.holder


class Scheduler:
    def __init__(
        self,
        services: Services,
        tasks: list[PeriodicTask],
        *,
        tick_seconds: float = 1.0,
        lease_seconds: float = 15.0,
        holder: str | None = None,
        on_ran: Callable[[], None] | None = None,
    ) -> None:
        self.services = services
        self.tasks = tasks
        self.tick_seconds = tick_seconds
        self.lease = LeaderLease(services.database, ttl_seconds=lease_seconds)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        self._last_run: dict[str, float] = {}
        # Rings this process's workers after a task that says it offered jobs (returned a count
        # above 0), so they start without waiting for a poll.
        self._on_ran = on_ran
        self._renew_every = max(lease_seconds / 3, tick_seconds)
        self._next_lease_check = float("-inf")
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self.is_leader:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.lease.release, self.holder)
            self.is_leader = False

    async def _loop(self) -> None:
        while not self._stop.is_set():
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.tick_seconds)

    async def tick(self) -> None:
        now = time.monotonic()
        if now >= self._next_lease_check:
            await self._check_lease(now)
        if not self.is_leader:
            return
        for task in self.tasks:
            if now - self._last_run.get(task.name, float("-inf")) < task.every_seconds:
                continue
            self._last_run[task.name] = now
            try:
                offered = await asyncio.to_thread(task.func, self.services)
            except Exception:
                log.exception("periodic_task_failed", task=task.name)
                continue
            if offered and self._on_ran is not None:
                self._on_ran()

    async def _check_lease(self, now: float) -> None:
        """Take or renew the lease. A renewal holds it for the whole period, so the leader acts
        until its next check, a third of the period later, well before the lease could expire."""
        try:
            leader = await asyncio.to_thread(self.lease.try_acquire, self.holder)
        except Exception:
            log.exception("scheduler_lease_failed")
            leader = False
        if leader != self.is_leader:
            log.info("scheduler_leadership", leader=leader, holder=self.holder)
        self.is_leader = leader
        self._next_lease_check = now + self._renew_every
