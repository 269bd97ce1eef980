"""Version updates (registry / MLflow events to pull requests) and quarantined versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base
from bot.storage.types import JSONDocument, UTCDateTime, utcnow


class UpdateRequest(Base):
    """A version-bump pull request the bot opened (or decided to open, in dry-run)."""

    __tablename__ = "update_requests"
    __table_args__ = (
        UniqueConstraint("repo", "branch", name="uq_update_requests_repo_branch"),
        Index("ix_update_requests_deployment", "repo", "deployment", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    deployment: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str | None] = mapped_column(String(255))
    branch: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))  # UpdateStatus
    pr_number: Mapped[int | None] = mapped_column(Integer)
    pr_url: Mapped[str | None] = mapped_column(String(1024))
    head_sha: Mapped[str | None] = mapped_column(String(64))
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("update_requests.id", ondelete="SET NULL"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    requested_by: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[Any | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Quarantine(Base):
    """A version rolled back for a deployment: no PR brings it (or anything older) back."""

    __tablename__ = "quarantines"
    __table_args__ = (UniqueConstraint("repo", "deployment", "version", name="uq_quarantines_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    deployment: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(255))
