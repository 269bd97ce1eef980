"""Workers against the real database: every job runs exactly once under concurrency."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter

from sqlalchemy import func, select

from bot.routing import Router
from bot.services import build_services
from bot.settings import Settings
from bot.storage.models import Job
from bot.worker import PermanentJobError, WorkerPool


def _settings(url: str, **overrides: object) -> Settings:
    return Settings(_env_file=None, database_url=url, job_poll_interval_seconds=0.05, **overrides)


async def _drain(pool: WorkerPool, total: int, timeout: float = 120) -> None:
    queue = pool.services.queue
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = await asyncio.to_thread(queue.counts)
        if counts["done"] + counts["dead"] >= total:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"jobs did not finish: {await asyncio.to_thread(queue.counts)}")


async def test_four_workers_run_a_thousand_jobs_exactly_once(database_url: str) -> None:
    runs: Counter[int] = Counter()
    lock = threading.Lock()
    router = Router()

    @router.register("internal", "test", name="record")
    def record(ctx) -> None:
        with lock:
            runs[ctx.payload["n"]] += 1

    services = build_services(_settings(database_url))
    total = 1000
    with services.database.transaction() as session:
        for n in range(total):
            services.queue.enqueue(session, "record", payload={"n": n})
    # Four pools (as four worker processes would be), one worker each.
    pools = [WorkerPool(services, router, concurrency=1, name=f"w{i}") for i in range(4)]
    for pool in pools:
        await pool.start()
    try:
        await _drain(pools[0], total)
    finally:
        for pool in pools:
            await pool.stop()
    services.close()
    assert len(runs) == total
    assert set(runs.values()) == {1}


async def test_failing_handler_is_retried_then_dead_with_error(database_url: str) -> None:
    router = Router()
    attempts: list[int] = []

    @router.register("internal", "test", name="flaky")
    def flaky(ctx) -> None:
        attempts.append(ctx.job.attempts)
        raise RuntimeError(f"attempt {ctx.job.attempts} failed")

    @router.register("internal", "test", name="refused")
    async def refused(ctx) -> None:
        raise PermanentJobError("bad input: no retry")

    services = build_services(_settings(database_url, job_max_attempts=3))
    services.queue.retry = type(services.queue.retry)(base_seconds=0.0, max_seconds=0.0)
    with services.database.transaction() as session:
        services.queue.enqueue(session, "flaky")
        services.queue.enqueue(session, "refused")
        services.queue.enqueue(session, "no.such.handler")
    pool = WorkerPool(services, router, concurrency=2)
    await pool.start()
    try:
        await _drain(pool, 3, timeout=30)
    finally:
        await pool.stop()
    with services.database.sessions() as session:
        jobs = {job.handler: job for job in session.execute(select(Job)).scalars()}
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 3
    services.close()
    assert attempts == [1, 2, 3]
    assert jobs["flaky"].status == "dead" and "attempt 3 failed" in jobs["flaky"].last_error
    assert jobs["refused"].status == "dead" and jobs["refused"].attempts == 1
    assert "no handler is registered" in jobs["no.such.handler"].last_error


async def test_workers_give_way_to_a_busy_intake_but_are_never_held_off(sqlite_database_url: str) -> None:
    """With the intake busy the whole time, every job still runs; each claim waited for quiet,
    within its bound, rather than competing with the webhooks for the process."""
    from bot.intake.activity import MOST_SECONDS, IntakeActivity

    ran: list[int] = []
    router = Router()

    @router.register("internal", "test", name="noted")
    def noted(ctx) -> None:
        ran.append(ctx.payload["n"])

    services = build_services(_settings(sqlite_database_url))
    total = 5
    with services.database.transaction() as session:
        for n in range(total):
            services.queue.enqueue(session, "noted", payload={"n": n})
    # When each claim that got a job was made (the handlers' own start times would add the
    # executor's scheduling to the spacing measured).
    claims: list[float] = []
    claim = services.queue.claim

    def timed_claim(worker_id: str):  # type: ignore[no-untyped-def]
        asked = time.monotonic()
        job = claim(worker_id)
        if job is not None:
            claims.append(asked)
        return job

    services.queue.claim = timed_claim  # type: ignore[method-assign]
    intake = IntakeActivity()
    intake.started()  # a request in flight throughout, never finished
    pool = WorkerPool(services, router, concurrency=3, name="beside-intake", intake=intake)
    started = time.monotonic()
    await pool.start()
    try:
        await _drain(pool, total, timeout=30)
    finally:
        await pool.stop()
    services.close()
    assert sorted(ran) == list(range(total))
    assert len(claims) == total
    # Three workers, but one claim at a time, each after waiting out the bound: the pool's jobs
    # were spaced by at least it.
    assert claims[0] - started >= MOST_SECONDS
    assert all(later - earlier >= MOST_SECONDS * 0.9 for earlier, later in itertools.pairwise(claims))


async def test_a_pool_stopped_while_its_workers_wait_their_turn_stops_at_once(
    sqlite_database_url: str,
) -> None:
    """stop() rings every worker; one still waiting for its turn to claim must not clear that ring
    and sleep out the grace period (it did: a 30 s stop whenever a ring and a stop came together)."""
    services = build_services(_settings(sqlite_database_url))
    pool = WorkerPool(services, Router(), concurrency=4, poll_interval=60.0)
    await pool.start()
    await asyncio.sleep(0.2)  # every worker has found the queue empty and waits to be rung
    try:
        pool.wake()  # all four go to claim, one at a time: three wait for their turn
        await asyncio.sleep(0)
        started = time.monotonic()
        await pool.stop(grace_seconds=20.0)
        assert time.monotonic() - started < 5.0
    finally:
        services.close()
