"""Workers: claim jobs from the durable queue and run their handlers.

Handlers may be plain functions (run in this pool's threads, since the forge and git
adapters block) or coroutine functions (awaited on the event loop). One that finds nothing to do
returns :class:`bot.reasons.Ignored`, and the job keeps its reason for the event. While a handler
runs, a heartbeat renews the job's lease every third of it and, in between, checks every
``STOP_CHECK_SECONDS`` that the job is still its own; when the lease is lost (another worker
took it over) or the job was cancelled (``/gitops cancel``, from any replica), the handler's
``ctx.cancelled`` is set (the one stop signal: the Terraform runners stop their processes on
it) and a coroutine handler is cancelled outright. The job ends ``lease_lost`` or ``cancelled``.

Idle workers do not poll. They wait to be rung: by this process's intake or scheduler after an
enqueue (:meth:`WorkerPool.wake`), by PostgreSQL's ``NOTIFY`` for a job any process added
(:mod:`bot.queue_notifications`), or by the pool's one watcher. The watcher reads when the next
job falls due (a retry's ``run_after``, a dead worker's lease running out) and sleeps until then,
at most ``job_poll_interval_seconds`` (SQLite, or PostgreSQL while nobody listens: other processes'
jobs are found by this poll; ``QUIET_POLL_SECONDS`` once the pool has been quiet for a while) or
``NOTIFIED_POLL_SECONDS`` (PostgreSQL listening: a safety net).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import socket
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import structlog

from bot.cancellation import JobCancelled, run_with_stop
from bot.intake.activity import IntakeActivity
from bot.jobs import HandlerContext, load_event
from bot.queue import ClaimedJob
from bot.queue_notifications import JobNotifications
from bot.reasons import Ignored
from bot.routing import RegisteredHandler, Router
from bot.services import Services
from bot.storage.models import JobStatus
from bot.storage.types import utcnow

log = structlog.get_logger("gitops_bot.worker")

# How soon a running job sees that it was cancelled: a read of its row, cheaper than a renewal.
STOP_CHECK_SECONDS = 2.0
# With PostgreSQL's notifications, the watcher's poll is only a safety net.
NOTIFIED_POLL_SECONDS = 30.0
# SQLite: the watcher reads the queue when the file changed, and at least this often anyway.
UNCHANGED_REREAD_SECONDS = 10.0
# SQLite, or PostgreSQL while nobody listens: once the pool has seen no job and no ring for
# QUIET_AFTER_SECONDS, the watcher looks for other processes' jobs only every QUIET_POLL_SECONDS
# (or job_poll_interval_seconds, if longer). Each look wakes the process, and on a small VM a wake
# costs about half a millisecond of CPU: at two a second, most of what an idle bot spent. A job
# this process adds still starts at once; one another process adds after a quiet spell waits up
# to QUIET_POLL_SECONDS, and the next ones no longer than job_poll_interval_seconds.
QUIET_AFTER_SECONDS = 30.0
QUIET_POLL_SECONDS = 2.0
# A ring while the last read found a job due already brings no news (the workers have work): such
# rings cause a read at most this often. Under a stream of webhooks every one of them rings.
BACKLOG_REREAD_SECONDS = 0.1


class PermanentJobError(Exception):
    """Raise from a handler when retrying cannot help (bad input, refused by policy)."""


class WorkerPool:
    def __init__(
        self,
        services: Services,
        router: Router,
        *,
        concurrency: int | None = None,
        poll_interval: float | None = None,
        name: str | None = None,
        intake: IntakeActivity | None = None,
        quiet_after_seconds: float = QUIET_AFTER_SECONDS,
    ) -> None:
        self.services = services
        self.quiet_after_seconds = quiet_after_seconds
        # The intake of this process, if it has one: each claim waits a moment for it to be quiet.
        self.intake = intake
        self.router = router
        self.concurrency = concurrency or services.settings.workers
        self.poll_interval = poll_interval or services.settings.job_poll_interval_seconds
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        # Own threads, so handlers never starve the web server's thread pool.
        self._executor = ThreadPoolExecutor(
            max_workers=self.concurrency * 2 + 2, thread_name_prefix="gitops-bot-worker"
        )
        self._wakeups: list[asyncio.Event] = []
        self._claiming = asyncio.Lock()
        self._watch_wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop_ref: asyncio.AbstractEventLoop | None = None
        self.notifications: JobNotifications | None = None
        if services.database.is_postgres and services.settings.job_notifications:
            self.notifications = JobNotifications(services.database.url, self._wake_threadsafe)

    def wake(self) -> None:
        """Ring every idle worker: called after enqueueing in this process, so a job starts at once.
        The watcher looks again too, for a job added to run later."""
        for wakeup in self._wakeups:
            wakeup.set()
        self._watch_wakeup.set()

    def _wake_threadsafe(self) -> None:
        loop = self._loop_ref
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.wake)

    async def start(self) -> None:
        self._stopping.clear()
        self._loop_ref = asyncio.get_running_loop()
        self._claiming = asyncio.Lock()
        self._wakeups = [asyncio.Event() for _ in range(self.concurrency)]
        self._tasks = [
            asyncio.create_task(
                self._loop(f"{self.name}/{index}", self._wakeups[index]), name=f"worker-{index}"
            )
            for index in range(self.concurrency)
        ]
        self._tasks.append(asyncio.create_task(self._watch(), name="worker-watch"))
        if self.notifications is not None:
            self.notifications.start()

    async def stop(self, grace_seconds: float = 30.0) -> None:
        """Let running jobs finish; jobs cut off are retaken by others when their lease expires."""
        self._stopping.set()
        self.wake()
        self._watch_wakeup.set()
        if self.notifications is not None:
            await asyncio.to_thread(self.notifications.stop)
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks = []
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _call(self, func: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    async def _loop(self, worker_id: str, wakeup: asyncio.Event) -> None:
        while not self._stopping.is_set():
            # One claim at a time in this process, each after giving way to its intake: while
            # webhooks keep arriving, the whole pool starts at most one job per bound.
            async with self._claiming:
                await self._give_way_to_intake()
                if self._stopping.is_set():  # stopped while this worker waited for its turn
                    break
                wakeup.clear()  # before claiming: a ring during the claim is not lost
                try:
                    job = await self._call(self.services.queue.claim, worker_id)
                except Exception:
                    log.exception("claim_failed", worker=worker_id)
                    job = None
            if job is None:
                # stop() rings every worker, but one that was waiting for its turn cleared that
                # ring above: without this check it would sleep until the grace period ran out.
                if self._stopping.is_set():
                    break
                await wakeup.wait()
                continue
            await self.run_job(job)
            self._watch_wakeup.set()  # the job may have queued a retry or a follow-up for later

    async def _give_way_to_intake(self) -> None:
        """Webhooks first: wait (boundedly) for this process's intake to be quiet (bot.intake.activity)."""
        if self.intake is None:
            return
        waited = 0.0
        while (pause := self.intake.give_way_seconds(waited)) > 0 and not self._stopping.is_set():
            await asyncio.sleep(pause)
            waited += pause

    def idle_poll_seconds(self, quiet_for: float = 0.0) -> float:
        """How long the watcher may sleep with nothing due: long while PostgreSQL will tell us,
        longer once the pool has been quiet for ``quiet_after_seconds``, else the poll interval."""
        if self.notifications is not None and self.notifications.listening:
            return max(NOTIFIED_POLL_SECONDS, self.poll_interval)
        if quiet_for >= self.quiet_after_seconds:
            return max(QUIET_POLL_SECONDS, self.poll_interval)
        return self.poll_interval

    async def _watch(self) -> None:
        """Ring the workers when a job falls due; in between, sleep until the next one is due."""
        seen: tuple[tuple[int, ...] | None, datetime | None, float] = (None, None, 0.0)
        busy_at = time.monotonic()  # when a job was last seen or a ring came
        while not self._stopping.is_set():
            rung = self._watch_wakeup.is_set()  # this process added or finished a job: read again
            self._watch_wakeup.clear()
            due, seen = await self._next_due(seen, reread=rung)
            now = time.monotonic()
            if rung or due is not None:
                busy_at = now
            wait = self.idle_poll_seconds(quiet_for=now - busy_at)
            if due is not None:
                until_due = (due - utcnow()).total_seconds()
                if until_due <= 0:
                    for wakeup in self._wakeups:
                        wakeup.set()
                    until_due = self.poll_interval  # busy workers claim it when they finish
                wait = min(wait, max(until_due, 0.01))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._watch_wakeup.wait(), timeout=wait)

    async def _next_due(
        self, seen: tuple[tuple[int, ...] | None, datetime | None, float], *, reread: bool
    ) -> tuple[datetime | None, tuple[tuple[int, ...] | None, datetime | None, float]]:
        """The queue's next due time, and what it was read against. On SQLite the read is skipped
        while nobody wrote to the file since the last one (its change token is the same), except
        every ``UNCHANGED_REREAD_SECONDS``, for a write the token could not tell apart."""
        database = self.services.database
        token = database.change_token()
        last_token, last_due, read_at = seen
        now = time.monotonic()
        fresh = now - read_at < UNCHANGED_REREAD_SECONDS
        if token is not None and token == last_token and not reread and fresh:
            return last_due, seen
        if last_due is not None and last_due <= utcnow() and now - read_at < BACKLOG_REREAD_SECONDS:
            return last_due, seen
        try:
            due = await self._call(self.services.queue.next_due)
        except Exception:
            log.exception("queue_watch_failed")
            return None, (None, None, now)
        return due, (token, due, now)

    async def run_job(self, job: ClaimedJob) -> str:
        """Run one claimed job to an outcome: done, retry, dead or lease_lost."""
        handler = self.router.get(job.handler)
        with structlog.contextvars.bound_contextvars(job_id=job.id, handler=job.handler):
            if handler is None:
                return await self._bury(job, f"no handler is registered as {job.handler!r}")
            if job.attempts > job.max_attempts:
                # Its workers kept dying mid-job (the lease ran out each time): stop retrying.
                return await self._bury(
                    job, f"abandoned after {job.max_attempts} attempts whose leases expired"
                )
            ctx = await self._context(job)
            return await self._execute(job, handler, ctx)

    async def _bury(self, job: ClaimedJob, reason: str) -> str:
        """Move ``job`` to dead without running it."""
        await self._call(lambda: self.services.queue.fail(job, reason, retry=False))
        return self._finish(job, "dead", 0.0)

    async def _context(self, job: ClaimedJob) -> HandlerContext:
        event = await self._call(load_event, self.services, job.event_id) if job.event_id else None
        delivery = {"delivery_id": event.delivery_id} if event else {}
        return HandlerContext(
            services=self.services,
            job=job,
            event=event,
            log=structlog.get_logger("gitops_bot.handler").bind(
                job_id=job.id, handler=job.handler, attempt=job.attempts, **delivery
            ),
        )

    async def _execute(self, job: ClaimedJob, handler: RegisteredHandler, ctx: HandlerContext) -> str:
        queue = self.services.queue
        started = time.monotonic()
        if inspect.iscoroutinefunction(handler.func):
            work: asyncio.Future[Any] = asyncio.ensure_future(handler.func(ctx))
        else:
            # The handler's thread sees ctx.cancelled as the stop signal of its child processes.
            work = asyncio.ensure_future(self._call(run_with_stop, ctx.cancelled, handler.func, ctx))
        heartbeat = asyncio.create_task(self._heartbeat(job, ctx, work))
        try:
            result = await work
        except (asyncio.CancelledError, JobCancelled):
            if not ctx.cancelled.is_set():
                raise
            return self._finish(job, await self._lost(job), time.monotonic() - started)
        except Exception as exc:
            permanent = isinstance(exc, PermanentJobError)
            error = "".join(traceback.format_exception(exc))
            ctx.log.warning("job_failed", error=str(exc), permanent=permanent)
            status = await self._call(lambda: queue.fail(job, error, retry=not permanent))
            if status is None:
                return self._finish(job, await self._lost(job), time.monotonic() - started)
            outcome = "dead" if status == JobStatus.DEAD else "retry"
            return self._finish(job, outcome, time.monotonic() - started)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        # A handler that found nothing to do says why (``bot.reasons.Ignored``): kept for its event.
        ignored = result.reason if isinstance(result, Ignored) else None
        if ignored is not None:
            ctx.log.info("job_ignored", reason=ignored)
        completed = await self._call(lambda: queue.complete(job, ignored_reason=ignored))
        outcome = "done" if completed else await self._lost(job)
        return self._finish(job, outcome, time.monotonic() - started)

    async def _lost(self, job: ClaimedJob) -> str:
        """Why the job is no longer this claim's: ``cancelled`` by a person, or ``lease_lost``."""
        try:
            reason = await self._call(self.services.queue.cancellation, job)
        except Exception:
            log.exception("cancellation_unknown", job_id=job.id)
            reason = None
        return "lease_lost" if reason is None else "cancelled"

    async def _heartbeat(self, job: ClaimedJob, ctx: HandlerContext, work: asyncio.Future[Any]) -> None:
        """Renew the lease every third of it; between renewals, check that the job is still ours."""
        queue = self.services.queue
        renew_every = max(queue_lease_seconds(self.services) / 3, 0.05)
        tick = min(renew_every, STOP_CHECK_SECONDS)
        ticks_per_renewal = max(int(renew_every // tick), 1)  # never later than a third of the lease
        ticks = 0
        while True:
            await asyncio.sleep(tick)
            ticks += 1
            check = queue.heartbeat if ticks % ticks_per_renewal == 0 else queue.holds
            try:
                kept = await self._call(check, job)
            except Exception:
                log.exception("heartbeat_failed", job_id=job.id)
                continue
            if not kept:
                why = await self._lost(job)
                ctx.log.warning("job_cancelled" if why == "cancelled" else "lease_lost")
                ctx.cancelled.set()
                work.cancel()
                return

    def _finish(self, job: ClaimedJob, outcome: str, seconds: float) -> str:
        metrics = self.services.metrics
        metrics.jobs_finished.labels(job.handler, outcome).inc()
        metrics.job_duration.labels(job.handler, outcome).observe(seconds)
        log.info(
            "job_finished", job_id=job.id, handler=job.handler, outcome=outcome, seconds=round(seconds, 3)
        )
        return outcome


def queue_lease_seconds(services: Services) -> float:
    return services.queue.lease.total_seconds()
