"""Received events, their queued jobs, the audit log, and the scheduler's leader lease."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base
from bot.storage.models.statuses import JobStatus
from bot.storage.types import JSONDocument, UTCDateTime, utcnow


class Event(Base):
    """One webhook delivery (or one event of a multi-event registry envelope)."""

    __tablename__ = "events"
    __table_args__ = (
        # The dedupe guarantee is this constraint, not a read-then-write check.
        UniqueConstraint("source", "dedupe_key", name="uq_events_source_dedupe_key"),
        Index("ix_events_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    delivery_id: Mapped[str] = mapped_column(String(255))
    dedupe_key: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))  # EventStatus
    ignored_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[Any] = mapped_column(JSONDocument)
    domain: Mapped[Any | None] = mapped_column(JSONDocument)


class Job(Base):
    """A unit of work for one handler, claimed by workers under a lease."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "status", "run_after"),
        Index("ix_jobs_event_id", "event_id"),
        UniqueConstraint("dedupe_key", name="uq_jobs_dedupe_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    handler: Mapped[str] = mapped_column(String(255))
    payload: Mapped[Any | None] = mapped_column(JSONDocument)
    # Jobs created by the scheduler rather than by an event use this to stay unique.
    dedupe_key: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when the job finished having found nothing to do, saying why (``bot.reasons``): an
    # event whose every job did nothing is ``ignored`` with these reasons.
    ignored_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Action(Base):
    """Audit log: every decision the bot takes or refuses, performed or dry-run, and who asked."""

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    repo: Mapped[str | None] = mapped_column(String(255))
    target: Mapped[str | None] = mapped_column(String(512))
    summary: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(32), default="done")
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[Any | None] = mapped_column(JSONDocument)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))


class SchedulerLease(Base):
    """Leader election: the one process whose lease is current runs the scheduler."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
