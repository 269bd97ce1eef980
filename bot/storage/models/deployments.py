"""Merged deployments, their canary analyses, steps and measured intervals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base
from bot.storage.types import JSONDocument, UTCDateTime, utcnow


class Deployment(Base):
    """A merged change of a deployment's version, and what became of it."""

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("repo", "name", "merge_commit_sha", name="uq_deployments_merge"),
        Index("ix_deployments_name", "repo", "name", "merged_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(255))
    previous_version: Mapped[str | None] = mapped_column(String(255))
    pr_number: Mapped[int | None] = mapped_column(Integer)
    pr_url: Mapped[str | None] = mapped_column(String(1024))
    merge_commit_sha: Mapped[str] = mapped_column(String(64))
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16))  # DeploymentStatus
    rollback_pr_number: Mapped[int | None] = mapped_column(Integer)
    rollback_pr_url: Mapped[str | None] = mapped_column(String(1024))
    rolled_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[Any | None] = mapped_column(JSONDocument)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Analysis(Base):
    """The canary analysis of one deployment."""

    __tablename__ = "analyses"
    __table_args__ = (Index("ix_analyses_due", "status", "next_run_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(24))  # AnalysisStatus
    reason: Mapped[str | None] = mapped_column(Text)
    config: Mapped[Any] = mapped_column(JSONDocument)  # the canary config it runs with
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The traffic ladder (bot.deployments.ladder); all NULL for an analysis without steps.
    step: Mapped[int | None] = mapped_column(Integer)
    """The rung the analysis is on (0-based)."""
    step_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    step_first_interval: Mapped[int | None] = mapped_column(Integer)
    """The index of the first interval measured on this rung: the rung is judged on its own."""
    paused_status: Mapped[str | None] = mapped_column(String(24))
    """While ``status`` is ``paused``: the status ``/gitops resume`` returns to."""
    paused_by: Mapped[str | None] = mapped_column(String(255))


class AnalysisStep(Base):
    """One rung of a canary's traffic ladder: its weight, the commit that wrote it, how it went."""

    __tablename__ = "analysis_steps"
    __table_args__ = (UniqueConstraint("analysis_id", "index", name="uq_analysis_steps_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # bot.deployments.ladder.StepStatus
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    pr_number: Mapped[int | None] = mapped_column(Integer)
    pr_url: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AnalysisInterval(Base):
    """One interval's measurements: the evidence behind a verdict."""

    __tablename__ = "analysis_intervals"
    __table_args__ = (UniqueConstraint("analysis_id", "index", name="uq_analysis_intervals_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verdict: Mapped[str] = mapped_column(String(16))  # pass | fail | inconclusive
    request_count: Mapped[float | None] = mapped_column(Float)
    measurements: Mapped[Any] = mapped_column(JSONDocument)
