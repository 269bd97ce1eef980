"""Cancelling jobs (``/gitops cancel``) on SQLite and on PostgreSQL: a queued job never runs, a
running one's owner is fenced and its worker stops it within seconds, nothing is retried."""

from __future__ import annotations

import asyncio
import threading
import time

from sqlalchemy import select

from bot.queue import Cancelled, JobQueue, RetryPolicy
from bot.routing import Router
from bot.services import build_services
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import Event, Job
from bot.worker import STOP_CHECK_SECONDS, WorkerPool

DOMAIN = {"kind": "pr_comment", "repo": "acme/infra", "pr_number": 7}


def _event(session, key: str = "d1") -> Event:
    event = Event(
        source="github",
        event="issue_comment",
        action="created",
        delivery_id=key,
        dedupe_key=key,
        status="queued",
        payload={},
        domain=DOMAIN,
    )
    session.add(event)
    session.flush()
    return event


def _row(database: Database, job_id: int) -> Job:
    with database.sessions() as session:
        row = session.get(Job, job_id)
        assert row is not None
        session.expunge(row)
        return row


def test_a_cancelled_queued_job_is_never_claimed_and_finishes_its_event(database: Database) -> None:
    queue = JobQueue(database)
    with database.transaction() as session:
        event = _event(session)
        plan = queue.enqueue(session, "terraform.comment", event_id=event.id)
        other = queue.enqueue(session, "deployments.comment", event_id=event.id)
        session.flush()
        event_id, plan_id, other_id = event.id, plan.id, other.id
    claimed = queue.claim("w")
    assert claimed is not None and claimed.id == plan_id
    assert queue.fail(claimed, "transient") == "queued"  # waiting for its retry now

    assert queue.cancel([plan_id], "cancelled by @alice (/gitops cancel)") == Cancelled((plan_id,), ())
    row = _row(database, plan_id)
    assert (row.status, row.last_error, row.attempts) == (
        "cancelled",
        "cancelled by @alice (/gitops cancel)",
        1,
    )
    assert row.finished_at is not None and row.lease_expires_at is None
    with database.sessions() as session:
        assert session.get(Event, event_id).status == "queued"  # its other job has not run yet
    other_job = queue.claim("w")
    assert other_job is not None and other_job.id == other_id
    assert queue.complete(other_job)
    with database.sessions() as session:
        assert session.get(Event, event_id).status == "done"  # a cancelled job counts as finished
    assert queue.claim("w") is None
    assert queue.counts()["cancelled"] == 1


def test_a_cancelled_running_job_fences_its_owner_and_is_not_retried(database: Database) -> None:
    queue = JobQueue(database, lease_seconds=0.2, retry=RetryPolicy(base_seconds=0.0, max_seconds=0.0))
    with database.transaction() as session:
        event = _event(session)
        queue.enqueue(session, "terraform.comment", event_id=event.id)
        event_id = event.id
    job = queue.claim("w")
    assert job is not None and queue.holds(job) and queue.cancellation(job) is None

    assert queue.cancel([job.id, 999_999], "cancelled by @alice") == Cancelled((), (job.id,))
    assert not queue.holds(job)
    assert not queue.heartbeat(job)
    assert queue.cancellation(job) == "cancelled by @alice"
    assert not queue.complete(job)
    assert queue.fail(job, "stopped") is None
    row = _row(database, job.id)
    assert (row.status, row.last_error, row.attempts) == ("cancelled", "cancelled by @alice", 1)
    with database.sessions() as session:
        assert session.get(Event, event_id).status == "done"
    time.sleep(0.3)  # past the lease it had: still nobody's to take over
    assert queue.claim("other") is None
    assert queue.cancel([job.id], "again") == Cancelled((), ())  # finished jobs stay as they are
    assert _row(database, job.id).last_error == "cancelled by @alice"


def test_a_lost_lease_is_not_a_cancellation(database: Database) -> None:
    queue = JobQueue(database, lease_seconds=0.1)
    with database.transaction() as session:
        queue.enqueue(session, "h")
    stale = queue.claim("w1")
    time.sleep(0.2)
    fresh = queue.claim("w2")
    assert stale is not None and fresh is not None and fresh.id == stale.id
    assert not queue.holds(stale) and queue.cancellation(stale) is None
    assert queue.cancel([fresh.id], "cancelled by @alice") == Cancelled((), (fresh.id,))
    # Only the claim that was running when the cancel came learns it was cancelled.
    assert queue.cancellation(stale) is None and queue.cancellation(fresh) == "cancelled by @alice"
    assert queue.cancel([], "nothing") == Cancelled((), ())


def test_unfinished_lists_queued_and_running_jobs_of_the_handlers_with_their_event(
    database: Database,
) -> None:
    queue = JobQueue(database)
    with database.transaction() as session:
        event = _event(session)
        first = queue.enqueue(session, "terraform.comment", event_id=event.id)
        queue.enqueue(session, "deployments.comment", event_id=event.id)
        finished = queue.enqueue(session, "terraform.comment", event_id=event.id)
        eventless = queue.enqueue(session, "terraform.pull_request", payload={"n": 1})
        session.flush()
        ids = (first.id, finished.id, eventless.id)
    running = queue.claim("w")
    assert running is not None and running.id == ids[0]
    done = queue.claim("w")
    assert done is not None and queue.complete(done)  # the deployments job: another handler anyway
    with database.transaction() as session:
        session.get(Job, ids[1]).status = "done"
    found = queue.unfinished(["terraform.comment", "terraform.pull_request"])
    assert [(job.id, job.handler, job.status) for job in found] == [
        (ids[0], "terraform.comment", "running"),
        (ids[2], "terraform.pull_request", "queued"),
    ]
    assert found[0].event_domain == DOMAIN and found[1].event_domain is None
    assert found[1].payload == {"n": 1}


def _settings(url: str, **overrides: object) -> Settings:
    return Settings(_env_file=None, database_url=url, job_poll_interval_seconds=0.05, **overrides)


async def test_a_worker_stops_a_cancelled_job_within_seconds_and_says_so(database_url: str) -> None:
    """The default 60 s lease is renewed every 20 s; a cancel is seen at the next check."""
    stopped = threading.Event()
    started = threading.Event()
    router = Router()

    @router.register("internal", "test", name="long.plan")
    def long_plan(ctx) -> None:
        started.set()
        if ctx.cancelled.wait(timeout=60):
            stopped.set()

    services = build_services(_settings(database_url))
    with services.database.transaction() as session:
        job = services.queue.enqueue(session, "long.plan")
        session.flush()
        job_id = job.id
    pool = WorkerPool(services, router, concurrency=1)
    await pool.start()
    try:
        assert await asyncio.to_thread(started.wait, 10)
        asked = time.monotonic()
        moved = await asyncio.to_thread(services.queue.cancel, [job_id], "cancelled by @alice")
        assert moved == Cancelled((), (job_id,))
        assert await asyncio.to_thread(stopped.wait, STOP_CHECK_SECONDS + 5)
        assert time.monotonic() - asked < STOP_CHECK_SECONDS + 2
        sample = services.metrics.registry.get_sample_value
        deadline = time.monotonic() + 5
        while not sample("gitops_bot_jobs_finished_total", {"handler": "long.plan", "outcome": "cancelled"}):
            assert time.monotonic() < deadline, "the job did not finish as cancelled"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a few polls: nothing claims it again
    finally:
        await pool.stop()
    with services.database.sessions() as session:
        row = session.execute(select(Job).where(Job.id == job_id)).scalar_one()
        assert (row.status, row.attempts) == ("cancelled", 1)
    services.close()
