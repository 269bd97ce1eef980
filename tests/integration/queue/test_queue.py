"""The durable queue on SQLite and on PostgreSQL: claims, leases, retries, dead jobs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import timedelta

from sqlalchemy import select

from bot.queue import JobOffer, JobQueue, RetryPolicy
from bot.storage.db import Database
from bot.storage.models import Event, Job
from bot.storage.types import utcnow


def _event(session, key: str = "d1") -> Event:
    event = Event(
        source="github",
        event="pull_request",
        action="opened",
        delivery_id=key,
        dedupe_key=key,
        status="queued",
        payload={},
    )
    session.add(event)
    session.flush()
    return event


def test_claim_complete_marks_event_done(database: Database) -> None:
    queue = JobQueue(database)
    with database.transaction() as session:
        event = _event(session)
        queue.enqueue(session, "h.one", event_id=event.id)
        queue.enqueue(session, "h.two", event_id=event.id)
        event_id = event.id
    first = queue.claim("w1")
    second = queue.claim("w2")
    assert first and second and {first.handler, second.handler} == {"h.one", "h.two"}
    assert queue.claim("w3") is None
    assert queue.complete(first)
    with database.sessions() as session:
        assert session.get(Event, event_id).status == "queued"
    assert queue.complete(second)
    with database.sessions() as session:
        stored = session.get(Event, event_id)
        assert stored.status == "done" and stored.finished_at is not None


def test_failure_retries_with_backoff_then_goes_dead(database: Database) -> None:
    queue = JobQueue(database, max_attempts=2, retry=RetryPolicy(base_seconds=0.0, max_seconds=0.0))
    with database.transaction() as session:
        event = _event(session)
        queue.enqueue(session, "h", event_id=event.id)
        event_id = event.id
    job = queue.claim("w")
    assert queue.fail(job, "boom 1") == "queued"
    job = queue.claim("w")
    assert job is not None and job.attempts == 2
    assert queue.fail(job, "boom 2") == "dead"
    assert queue.claim("w") is None
    with database.sessions() as session:
        stored = session.execute(select(Job)).scalar_one()
        assert stored.status == "dead" and stored.last_error == "boom 2" and stored.attempts == 2
        assert session.get(Event, event_id).status == "failed"


def test_backoff_delays_the_retry(database: Database) -> None:
    queue = JobQueue(database, retry=RetryPolicy(base_seconds=60, max_seconds=60))
    with database.transaction() as session:
        queue.enqueue(session, "h")
    job = queue.claim("w")
    before = utcnow()
    assert queue.fail(job, "transient") == "queued"
    assert queue.claim("w") is None  # not before its run_after
    with database.sessions() as session:
        run_after = session.execute(select(Job.run_after)).scalar_one()
    assert run_after >= before + timedelta(seconds=29)


def test_expired_lease_is_taken_over_and_the_old_owner_is_fenced(database: Database) -> None:
    # Long enough that a loaded machine pausing this test between two claims (0.2 s did, once,
    # in a full run) does not let the lease lapse before "still held" is checked.
    queue = JobQueue(database, lease_seconds=1.0)
    with database.transaction() as session:
        queue.enqueue(session, "h")
    stale = queue.claim("dead-worker")
    assert stale is not None
    assert queue.claim("other") is None  # lease still held
    deadline = time.monotonic() + 5
    fresh = None
    while fresh is None and time.monotonic() < deadline:
        fresh = queue.claim("other")
    assert fresh is not None and fresh.id == stale.id and fresh.attempts == 2
    assert not queue.heartbeat(stale)
    assert not queue.complete(stale)
    assert queue.fail(stale, "late") is None
    assert queue.complete(fresh)


def test_heartbeat_keeps_the_lease(database: Database) -> None:
    queue = JobQueue(database, lease_seconds=0.3)
    with database.transaction() as session:
        queue.enqueue(session, "h")
    job = queue.claim("w")
    for _ in range(4):
        time.sleep(0.1)  # the lease is short on purpose; each beat renews it
        assert queue.heartbeat(job)
        assert queue.claim("thief") is None
    assert queue.complete(job)


def test_job_dedupe_key_is_unique(database: Database) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    queue = JobQueue(database)
    with database.transaction() as session:
        queue.enqueue(session, "h", dedupe_key="tick:1")
    with pytest.raises(IntegrityError), database.transaction() as session:
        queue.enqueue(session, "h", dedupe_key="tick:1")


def test_offer_many_adds_jobs_once_per_dedupe_key(database: Database) -> None:
    queue = JobQueue(database)
    offers = [
        JobOffer("h", dedupe_key="tick:1"),
        JobOffer("h", dedupe_key="tick:1"),
        JobOffer("h"),
        JobOffer("h"),
    ]
    with database.transaction() as session:
        assert queue.offer_many(session, offers) == 3  # the repeated key once, keyless jobs always
    with database.transaction() as session:
        assert (
            queue.offer_many(
                session, [JobOffer("h", dedupe_key="tick:1"), JobOffer("h", dedupe_key="tick:2")]
            )
            == 1
        )
        assert queue.offer_many(session, []) == 0
    assert not queue.enqueue_once("h", dedupe_key="tick:2")
    assert queue.enqueue_once("h", dedupe_key="tick:3")
    with database.sessions() as session:
        keys = session.execute(select(Job.dedupe_key).order_by(Job.id)).scalars().all()
    assert keys == ["tick:1", None, None, "tick:2", "tick:3"]


def test_a_killed_worker_process_job_is_rerun(database_url: str, database: Database) -> None:
    """A worker process SIGKILLed mid-job leaves a running job that another claims later."""
    queue = JobQueue(database, lease_seconds=1.0)
    with database.transaction() as session:
        queue.enqueue(session, "h")
    script = textwrap.dedent(
        f"""
        import sys, time
        from bot.queue import JobQueue
        from bot.storage.db import Database
        job = JobQueue(Database({database_url!r}), lease_seconds=1.0).claim("doomed")
        print(job.id, flush=True)
        time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        claimed_id = int(process.stdout.readline())
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 10
    job = None
    while job is None and time.monotonic() < deadline:
        job = queue.claim("survivor")
        if job is None:
            time.sleep(0.05)
    assert job is not None and job.id == claimed_id and job.attempts == 2
    assert queue.complete(job)
