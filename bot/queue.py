"""A durable job queue in the database.

Workers claim jobs with one conditional ``UPDATE … RETURNING`` statement, so two
workers can never both win the same job: on PostgreSQL the candidate row is picked
with ``FOR UPDATE SKIP LOCKED``; on SQLite, which ignores SKIP LOCKED, the claim runs in
an IMMEDIATE transaction (see ``bot.storage.db``) and the WHERE clause repeats the
claimable condition, so the update is conditional either way.

A claim holds a lease. The worker renews it with heartbeats; when a worker dies, its
lease runs out and another worker claims the job again. Every claim gets a fresh
lease token, so a worker whose lease was taken over cannot complete or fail the job.

A person may cancel jobs (``/gitops cancel``): ``cancel`` moves them to ``cancelled`` in one
transaction, whichever replica runs them. A queued one is then never claimed; a running one's
owner is fenced exactly as after a takeover (its heartbeat, ``holds``, ``complete`` and
``fail`` all match ``running`` only), so its worker sets the job's stop signal and the
Terraform it started is stopped; ``cancellation`` tells that worker why. A cancelled job is
finished, for its event too, and is never retried.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bot.reasons import joined
from bot.storage.db import Database
from bot.storage.models import Event, EventStatus, Job, JobStatus
from bot.storage.statements import insert_ignoring_conflicts
from bot.storage.types import utcnow

MAX_ERROR_CHARS = 8_000


def ignored_event_reason(jobs: Sequence[tuple[str, str | None]]) -> str | None:
    """Why an event led to nothing, from its jobs' (status, ignored reason): their distinct reasons
    when every job finished having found nothing to do; None when one acted or was cancelled."""
    if not jobs or any(status != JobStatus.DONE or not reason for status, reason in jobs):
        return None
    return joined(reason for _status, reason in jobs if reason)[:MAX_ERROR_CHARS]


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    handler: str
    event_id: int | None
    payload: Mapping[str, Any] | None
    attempts: int
    max_attempts: int
    lease_owner: str


@dataclass(frozen=True)
class UnfinishedJob:
    """A queued or running job, with its event's domain form (JSON) to tell what it is about."""

    id: int
    handler: str
    status: str  # JobStatus.QUEUED or JobStatus.RUNNING
    payload: Mapping[str, Any] | None
    event_domain: Mapping[str, Any] | None
    event_id: int | None = None


@dataclass(frozen=True)
class Cancelled:
    """The jobs ``cancel`` moved to ``cancelled``, by the status they had then."""

    queued: tuple[int, ...]
    running: tuple[int, ...]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped."""

    base_seconds: float = 2.0
    max_seconds: float = 300.0

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * (2 ** max(attempts - 1, 0)))
        return (rng or random).uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class JobOffer:
    """A job a producer asks for; ``JobQueue.job_row`` fills in everything else."""

    handler: str
    event_id: int | None = None
    payload: Mapping[str, Any] | None = None
    # Jobs not tied to an event (periodic work, follow-ups) stay unique through this.
    dedupe_key: str | None = None
    run_after: datetime | None = None  # None: now
    max_attempts: int | None = None  # None: the queue's


class JobQueue:
    def __init__(
        self,
        database: Database,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = 5,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.database = database
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.retry = retry or RetryPolicy()
        # Built once: the intake runs it for every accepted webhook.
        self._insert_ignoring_taken_keys = insert_ignoring_conflicts(
            database.dialect, Job, conflict=["dedupe_key"]
        ).returning(Job.id)

    # -- producing ---------------------------------------------------------------------

    def job_row(self, offer: JobOffer, now: datetime) -> dict[str, Any]:
        """Every column of the job row ``offer`` asks for: the one place job rows are built."""
        return {
            "handler": offer.handler,
            "event_id": offer.event_id,
            "payload": dict(offer.payload) if offer.payload is not None else None,
            "dedupe_key": offer.dedupe_key,
            "status": JobStatus.QUEUED.value,
            "attempts": 0,
            "max_attempts": offer.max_attempts or self.max_attempts,
            "run_after": offer.run_after or now,
            "lease_owner": None,
            "lease_expires_at": None,
            "last_error": None,
            "ignored_reason": None,
            "created_at": now,
            "updated_at": now,
            "finished_at": None,
        }

    def offer_many(
        self, transaction: Session | Connection, offers: Sequence[JobOffer], *, now: datetime | None = None
    ) -> int:
        """Add jobs inside the caller's transaction, skipping any whose dedupe key is taken.

        Returns how many were added. The unique constraint decides (``ON CONFLICT DO
        NOTHING``), so processes offering the same periodic work at once add it once; jobs
        without a dedupe key never conflict.
        """
        if not offers:
            return 0
        now = now or utcnow()
        rows = [self.job_row(offer, now) for offer in offers]
        # One row (most events have one handler) skips SQLAlchemy's many-rows machinery.
        parameters = rows[0] if len(rows) == 1 else rows
        added = transaction.execute(self._insert_ignoring_taken_keys, parameters).scalars().all()
        return len(added)

    def enqueue(
        self,
        session: Session,
        handler: str,
        *,
        event_id: int | None = None,
        payload: Mapping[str, Any] | None = None,
        dedupe_key: str | None = None,
        run_after: datetime | None = None,
        max_attempts: int | None = None,
    ) -> Job:
        """Add a job inside the caller's transaction (so it commits with the event).

        Unlike ``offer_many``, a dedupe key already taken is an error (``IntegrityError`` at
        flush or commit), which rolls the caller's whole transaction back."""
        offer = JobOffer(handler, event_id, payload, dedupe_key, run_after, max_attempts)
        job = Job(**self.job_row(offer, utcnow()))
        session.add(job)
        return job

    def enqueue_once(
        self,
        handler: str,
        *,
        dedupe_key: str,
        payload: Mapping[str, Any] | None = None,
        run_after: datetime | None = None,
    ) -> bool:
        """Enqueue in a transaction of its own, unless a job with ``dedupe_key`` exists already.

        For periodic tasks and follow-ups: several processes may decide the same thing at once,
        and the unique constraint (not a read-then-write check) makes exactly one of them win."""
        offer = JobOffer(handler, payload=payload, dedupe_key=dedupe_key, run_after=run_after)
        with self.database.transaction() as session:
            return self.offer_many(session, [offer]) == 1

    # -- consuming ---------------------------------------------------------------------

    def _claimable(self, now: datetime) -> Any:
        return or_(
            and_(Job.status == JobStatus.QUEUED, Job.run_after <= now),
            and_(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now),
        )

    def claim(self, worker_id: str) -> ClaimedJob | None:
        now = utcnow()
        owner = f"{worker_id}/{uuid.uuid4().hex[:12]}"
        candidate = select(Job.id).where(self._claimable(now)).order_by(Job.run_after, Job.id).limit(1)
        if self.database.is_postgres:
            candidate = candidate.with_for_update(skip_locked=True)
        statement = (
            update(Job)
            .where(Job.id == candidate.scalar_subquery())
            .where(self._claimable(now))
            .values(
                status=JobStatus.RUNNING,
                lease_owner=owner,
                lease_expires_at=now + self.lease,
                attempts=Job.attempts + 1,
                updated_at=now,
            )
            .returning(Job.id, Job.handler, Job.event_id, Job.payload, Job.attempts, Job.max_attempts)
            .execution_options(synchronize_session=False)
        )
        with self.database.transaction() as session:
            row = session.execute(statement).first()
        if row is None:
            return None
        return ClaimedJob(
            id=row.id,
            handler=row.handler,
            event_id=row.event_id,
            payload=row.payload,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            lease_owner=owner,
        )

    def holds(self, job: ClaimedJob) -> bool:
        """Whether ``job`` is still this claim's and running (a read: it renews nothing)."""
        with self.database.reads() as session:
            found = session.execute(select(Job.id).where(*self._owned(job))).first()
        return found is not None

    def _owned(self, job: ClaimedJob) -> tuple[Any, ...]:
        return (Job.id == job.id, Job.lease_owner == job.lease_owner, Job.status == JobStatus.RUNNING)

    def heartbeat(self, job: ClaimedJob) -> bool:
        """Extend the lease; False means the lease was lost or the job cancelled: stop the work."""
        now = utcnow()
        with self.database.transaction() as session:
            result = session.execute(
                update(Job)
                .where(*self._owned(job))
                .values(lease_expires_at=now + self.lease, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return result.rowcount == 1

    def complete(self, job: ClaimedJob, *, ignored_reason: str | None = None) -> bool:
        """Finish ``job``; ``ignored_reason``: it found nothing to do, and why (``bot.reasons``)."""
        now = utcnow()
        reason = ignored_reason[:MAX_ERROR_CHARS] if ignored_reason else None
        with self.database.transaction() as session:
            result = session.execute(
                update(Job)
                .where(*self._owned(job))
                .values(
                    status=JobStatus.DONE,
                    finished_at=now,
                    updated_at=now,
                    lease_expires_at=None,
                    ignored_reason=reason,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return False
            if job.event_id is not None:
                self._finish_event_if_done(session, job.event_id, now)
        return True

    def fail(self, job: ClaimedJob, error: str, *, retry: bool = True) -> str | None:
        """Record a failure: requeue with backoff, or move to ``dead`` when out of attempts.

        Returns the job's new status, or None when the lease had been lost.
        """
        now = utcnow()
        error = error[-MAX_ERROR_CHARS:]
        dead = not retry or job.attempts >= job.max_attempts
        values: dict[str, Any] = {"last_error": error, "updated_at": now, "lease_expires_at": None}
        if dead:
            values.update(status=JobStatus.DEAD, finished_at=now)
        else:
            values.update(
                status=JobStatus.QUEUED, run_after=now + timedelta(seconds=self.retry.delay(job.attempts))
            )
        with self.database.transaction() as session:
            result = session.execute(
                update(Job)
                .where(*self._owned(job))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return None
            if dead and job.event_id is not None:
                session.execute(
                    update(Event)
                    .where(Event.id == job.event_id)
                    .values(status=EventStatus.FAILED, error=error, finished_at=now)
                    .execution_options(synchronize_session=False)
                )
        return JobStatus.DEAD if dead else JobStatus.QUEUED

    def _finish_event_if_done(self, session: Session, event_id: int, now: datetime) -> None:
        """Once every job of the event finished: ``ignored`` with their reasons when each of them
        found nothing to do, else ``done``."""
        finished = (JobStatus.DONE, JobStatus.CANCELLED)
        unfinished = exists().where(Job.event_id == event_id, Job.status.not_in(finished))
        jobs = session.execute(
            select(Job.status, Job.ignored_reason).where(Job.event_id == event_id).order_by(Job.id)
        ).all()
        reason = ignored_event_reason([(row.status, row.ignored_reason) for row in jobs])
        status = EventStatus.DONE if reason is None else EventStatus.IGNORED
        session.execute(
            update(Event)
            .where(Event.id == event_id, Event.status == EventStatus.QUEUED, ~unfinished)
            .values(status=status, ignored_reason=reason, finished_at=now)
            .execution_options(synchronize_session=False)
        )

    # -- cancelling --------------------------------------------------------------------

    def unfinished(self, handlers: Collection[str]) -> list[UnfinishedJob]:
        """The queued and running jobs of ``handlers``, oldest first."""
        query = (
            select(Job.id, Job.handler, Job.status, Job.payload, Event.domain, Job.event_id)
            .outerjoin(Event, Event.id == Job.event_id)
            .where(Job.handler.in_(list(handlers)), Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
            .order_by(Job.id)
        )
        with self.database.sessions() as session:
            rows = session.execute(query).all()
        return [
            UnfinishedJob(row.id, row.handler, row.status, row.payload, row.domain, row.event_id)
            for row in rows
        ]

    def cancel(self, job_ids: Collection[int], reason: str) -> Cancelled:
        """Move the jobs still queued or running among ``job_ids`` to ``cancelled``, with ``reason``.

        One transaction, the queued ones first: a job claimed meanwhile is caught by the second
        statement as running (on PostgreSQL each statement sees what committed before it)."""
        if not job_ids:
            return Cancelled((), ())
        now = utcnow()
        values = {
            "status": JobStatus.CANCELLED,
            "last_error": reason[-MAX_ERROR_CHARS:],
            "finished_at": now,
            "updated_at": now,
            "lease_expires_at": None,
        }
        moved: dict[str, tuple[int, ...]] = {}
        with self.database.transaction() as session:
            for status in (JobStatus.QUEUED, JobStatus.RUNNING):
                statement = (
                    update(Job)
                    .where(Job.id.in_(list(job_ids)), Job.status == status)
                    .values(**values)
                    .returning(Job.id, Job.event_id)
                    .execution_options(synchronize_session=False)
                )
                rows = session.execute(statement).all()
                moved[status] = tuple(sorted(row.id for row in rows))
                for event_id in {row.event_id for row in rows if row.event_id is not None}:
                    self._finish_event_if_done(session, event_id, now)
        return Cancelled(moved[JobStatus.QUEUED], moved[JobStatus.RUNNING])

    def cancellation(self, job: ClaimedJob) -> str | None:
        """Why this claim's job was cancelled, or None when it was not (its lease was lost)."""
        with self.database.sessions() as session:
            row = session.execute(
                select(Job.last_error).where(
                    Job.id == job.id, Job.lease_owner == job.lease_owner, Job.status == JobStatus.CANCELLED
                )
            ).first()
        return None if row is None else (row.last_error or "cancelled")

    # -- observing ---------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self.database.reads() as session:
            rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
        counts = {status.value: 0 for status in JobStatus}
        counts.update({status: count for status, count in rows})
        return counts

    def next_due(self) -> datetime | None:
        """When a job next becomes claimable (a queued job's ``run_after``, a running job's lease
        expiry), in one read; None when no job is queued or running. What idle workers wait for."""
        queued = select(func.min(Job.run_after)).where(Job.status == JobStatus.QUEUED).scalar_subquery()
        running = (
            select(func.min(Job.lease_expires_at)).where(Job.status == JobStatus.RUNNING).scalar_subquery()
        )
        with self.database.reads() as session:
            row = session.execute(select(queued, running)).one()
        times = [moment for moment in row if moment is not None]
        return min(times) if times else None
