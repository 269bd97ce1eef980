"""An idle bot costs nothing: workers wait to be rung, the watcher sleeps until a job is due,
PostgreSQL's notifications reach a process that did not add the job, and the scheduler's
leader renews its lease a third of the period apart, not every tick."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.deployments.due_check import ANALYSES_CHANNEL
from bot.queue import JobOffer, JobQueue
from bot.queue_notifications import APPLICATION_NAME, JobNotifications, libpq_conninfo
from bot.routing import PeriodicTask, Router
from bot.scheduler import Scheduler
from bot.services import build_services
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.types import utcnow
from bot.worker import QUIET_POLL_SECONDS, WorkerPool

LONG_POLL = 60.0  # longer than any test: a job found in time was not found by polling


def _settings(url: str, **overrides: object) -> Settings:
    return Settings(_env_file=None, database_url=url, **{"job_poll_interval_seconds": LONG_POLL, **overrides})


def _recording_router(ran: list[tuple[int, float]]) -> Router:
    router = Router()

    @router.register("internal", "test", name="record")
    def record(ctx) -> None:
        ran.append((int(ctx.payload["n"]), time.monotonic()))

    return router


async def _until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return False


def test_next_due_is_the_earliest_queued_job_or_expiring_lease(database: Database) -> None:
    queue = JobQueue(database, lease_seconds=30)
    assert queue.next_due() is None
    now = utcnow()
    with database.transaction() as session:
        queue.offer_many(session, [JobOffer("a", run_after=now + timedelta(seconds=120))], now=now)
    assert abs((queue.next_due() - (now + timedelta(seconds=120))).total_seconds()) < 0.01
    with database.transaction() as session:
        queue.offer_many(session, [JobOffer("b", run_after=now - timedelta(seconds=1))], now=now)
    claimed = queue.claim("w")
    assert claimed is not None and claimed.handler == "b"
    # Now only a's run_after and b's lease (30 s from its claim) remain: the lease comes first.
    due = queue.next_due()
    assert due is not None and 25 < (due - now).total_seconds() < 35


async def test_idle_workers_do_not_poll_and_a_job_due_later_runs_when_due(database_url: str) -> None:
    ran: list[tuple[int, float]] = []
    services = build_services(_settings(database_url, job_notifications=False))
    claims = 0
    claim = services.queue.claim

    def counting_claim(worker_id: str):
        nonlocal claims
        claims += 1
        return claim(worker_id)

    services.queue.claim = counting_claim  # type: ignore[method-assign]
    pool = WorkerPool(services, _recording_router(ran), concurrency=4)
    await pool.start()
    try:
        await asyncio.sleep(1.0)
        assert claims <= 4, f"idle workers claimed {claims} times in a second (one each at start)"
        start = time.monotonic()
        with services.database.transaction() as session:
            services.queue.offer_many(
                session, [JobOffer("record", payload={"n": 1}, run_after=utcnow() + timedelta(seconds=0.6))]
            )
        pool.wake()  # what the intake does after enqueueing; the job is not due yet
        assert await _until(lambda: ran, 5.0), "the job due in 0.6 s never ran"
        assert 0.5 <= ran[0][1] - start < 2.0  # the watcher slept until it was due, not a poll interval
    finally:
        await pool.stop()
        services.close()


def test_a_quiet_pool_looks_less_often(sqlite_database_url: str) -> None:
    services = build_services(_settings(sqlite_database_url, job_poll_interval_seconds=0.5))
    try:
        pool = WorkerPool(services, Router(), quiet_after_seconds=30.0)
        assert pool.idle_poll_seconds(quiet_for=0.0) == 0.5
        assert pool.idle_poll_seconds(quiet_for=29.9) == 0.5
        assert pool.idle_poll_seconds(quiet_for=30.0) == QUIET_POLL_SECONDS
        slow = WorkerPool(services, Router(), poll_interval=5.0)  # an operator's longer interval stands
        assert slow.idle_poll_seconds(quiet_for=60.0) == 5.0
    finally:
        services.close()


async def test_a_quiet_pool_still_finds_another_process_job(sqlite_database_url: str) -> None:
    """After a quiet spell the watcher looks every QUIET_POLL_SECONDS: another process's job (one
    that cannot ring this pool) waits no longer than that, and the next ones start sooner again."""
    ran: list[tuple[int, float]] = []
    services = build_services(_settings(sqlite_database_url, job_poll_interval_seconds=0.2))
    pool = WorkerPool(services, _recording_router(ran), concurrency=2, quiet_after_seconds=0.5)
    await pool.start()
    other_process = Database(sqlite_database_url)
    try:
        await asyncio.sleep(1.5)  # quiet: the watcher now sleeps QUIET_POLL_SECONDS between looks
        queue = JobQueue(other_process)
        for n in range(2):
            added = time.monotonic()
            with other_process.transaction() as session:
                queue.offer_many(session, [JobOffer("record", payload={"n": n})])
            assert await _until(lambda n=n: len(ran) > n, QUIET_POLL_SECONDS + 3.0), f"job {n} never ran"
            assert ran[n][1] - added < QUIET_POLL_SECONDS + 1.0
        # The second came right after the first: the pool was busy, so it looked every 0.2 s.
        assert ran[1][1] - added < 1.0
    finally:
        other_process.dispose()
        await pool.stop()
        services.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_postgres_notifies_a_process_that_did_not_add_the_job(database_url: str) -> None:
    ran: list[tuple[int, float]] = []
    services = build_services(_settings(database_url))
    pool = WorkerPool(services, _recording_router(ran), concurrency=2)
    await pool.start()
    other_process = Database(database_url)  # another replica: it cannot ring our pool directly
    try:
        assert pool.notifications is not None
        assert await asyncio.to_thread(pool.notifications.wait_listening, 10.0)
        assert pool.idle_poll_seconds() >= 30
        queue = JobQueue(other_process)
        for n in range(3):
            with other_process.transaction() as session:
                queue.offer_many(session, [JobOffer("record", payload={"n": n})])
            assert await _until(lambda n=n: len(ran) > n, 5.0), f"job {n} was not picked up within 5 s"
    finally:
        other_process.dispose()
        await pool.stop()
        services.close()
    assert sorted(n for n, _at in ran) == [0, 1, 2]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_rolled_back_insert_notifies_nobody(database_url: str) -> None:
    rings: list[float] = []
    listener = JobNotifications(database_url, lambda: rings.append(time.monotonic()))
    database = Database(database_url)
    listener.start()
    try:
        assert listener.wait_listening(10.0)
        time.sleep(0.2)
        rings.clear()  # the ring on connecting, for jobs added while nobody listened
        with pytest.raises(RuntimeError), database.transaction() as session:
            JobQueue(database).offer_many(session, [JobOffer("x")])
            raise RuntimeError("rolled back")
        time.sleep(0.5)
        assert rings == []
        with database.transaction() as session:
            JobQueue(database).offer_many(session, [JobOffer("x"), JobOffer("y")])
        deadline = time.monotonic() + 5
        while not rings and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        assert len(rings) == 1  # one statement, one notification
    finally:
        listener.stop()
        database.dispose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_each_channel_rings_its_own_callback(database_url: str) -> None:
    """Jobs ring the workers; a statement writing analyses rings the due check (migration 0013),
    even one that matched no row: the trigger is per statement, and a notification only a hint."""
    rings: list[str] = []
    listener = JobNotifications(database_url, lambda: rings.append("jobs"))
    listener.subscribe(ANALYSES_CHANNEL, lambda: rings.append("analyses"))
    database = Database(database_url)
    listener.start()

    def heard(expected: list[str]) -> bool:
        deadline = time.monotonic() + 5
        while len(rings) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # and nothing more
        return rings == expected

    try:
        assert listener.wait_listening(10.0)
        assert heard(["jobs", "analyses"])  # each rings once on connecting
        rings.clear()
        with database.transaction() as session:
            JobQueue(database).offer_many(session, [JobOffer("x")])
        assert heard(["jobs"])
        rings.clear()
        with database.transaction() as session:
            session.execute(text("UPDATE analyses SET next_run_at = NULL WHERE id < 0"))
        assert heard(["analyses"])
        rings.clear()
        with database.transaction() as session:  # a column the check does not read: no ring
            session.execute(text("UPDATE analyses SET reason = NULL WHERE id < 0"))
        assert heard([])
        with pytest.raises(ValueError):
            listener.subscribe("not a channel; DROP TABLE jobs", lambda: None)
    finally:
        listener.stop()
        database.dispose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_listener_reconnects_when_its_connection_is_killed(database_url: str) -> None:
    rings: list[float] = []
    name = f"{APPLICATION_NAME} {uuid.uuid4().hex[:8]}"  # only this test's: workers run side by side
    listener = JobNotifications(
        database_url, lambda: rings.append(time.monotonic()), reconnect_seconds=0.2, application_name=name
    )
    database = Database(database_url)
    listener.start()
    try:
        assert listener.wait_listening(10.0)
        with database.engine.connect() as connection:  # PostgreSQL restarting, a pooler timing out
            killed = (
                connection.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                    (name,),
                )
                .scalars()
                .all()
            )
            connection.commit()
        assert True in killed, "the listener's connection was not found to kill"
        deadline = time.monotonic() + 5
        while listener.listening and time.monotonic() < deadline:
            time.sleep(0.02)
        assert listener.wait_listening(10.0), "the listener did not reconnect"
        time.sleep(0.2)
        rings.clear()
        with database.transaction() as session:
            JobQueue(database).offer_many(session, [JobOffer("after-reconnect")])
        deadline = time.monotonic() + 5
        while not rings and time.monotonic() < deadline:
            time.sleep(0.02)
        assert rings, "no ring after the reconnection"
    finally:
        listener.stop()
        database.dispose()


def test_libpq_conninfo_keeps_the_schema_option() -> None:
    url = "postgresql+psycopg://bot:s3cret@db.internal:5433/gitops?options=-csearch_path%3Dbot"
    assert (
        libpq_conninfo(url) == "postgresql://bot:s3cret@db.internal:5433/gitops?options=-csearch_path%3Dbot"
    )


async def test_the_leader_renews_its_lease_a_third_of_the_period_apart(database_url: str) -> None:
    services = build_services(Settings(_env_file=None, database_url=database_url))
    scheduler = Scheduler(
        services, [PeriodicTask("t", 0.0, lambda _s: None)], tick_seconds=0.02, lease_seconds=0.9, holder="a"
    )
    renewals = 0
    acquire = scheduler.lease.try_acquire

    def counting(holder: str) -> bool:
        nonlocal renewals
        renewals += 1
        return acquire(holder)

    scheduler.lease.try_acquire = counting  # type: ignore[method-assign]
    await scheduler.start()
    await asyncio.sleep(1.0)
    assert scheduler.is_leader
    await scheduler.stop()
    services.close()
    # About 50 ticks; a renewal every 0.3 s is 4, not 50.
    assert 3 <= renewals <= 6
