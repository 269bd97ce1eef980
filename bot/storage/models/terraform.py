"""Terraform: locks, plans, drift checks, runs as Kubernetes Jobs, and runs as the console shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base
from bot.storage.types import JSONDocument, UTCDateTime, utcnow


class Lock(Base):
    """One PR at a time per repo + dir + workspace (+ project): the unique constraint is the lock."""

    __tablename__ = "locks"
    __table_args__ = (
        UniqueConstraint("repo", "dir", "workspace", "project", name="uq_locks_target"),
        Index("ix_locks_pull", "repo", "pr_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    dir: Mapped[str] = mapped_column(String(1024))
    workspace: Mapped[str] = mapped_column(String(255))
    project: Mapped[str] = mapped_column(String(255), default="")  # "" when unnamed
    pr_number: Mapped[int] = mapped_column(Integer)
    pr_url: Mapped[str | None] = mapped_column(String(1024))
    owner: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Plan(Base):
    """The latest plan of a project on a pull request, at a head sha."""

    __tablename__ = "plans"
    __table_args__ = (
        UniqueConstraint("repo", "pr_number", "dir", "workspace", "project", name="uq_plans_target"),
        Index("ix_plans_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    pr_number: Mapped[int] = mapped_column(Integer)
    dir: Mapped[str] = mapped_column(String(1024))
    workspace: Mapped[str] = mapped_column(String(255))
    project: Mapped[str] = mapped_column(String(255), default="")
    head_sha: Mapped[str] = mapped_column(String(64))
    base_sha: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # PlanStatus
    # The binary plan file itself, so that any replica (or this one after a restart) can apply
    # it. It can be megabytes: deferred, so listing plans never loads it; it never goes into a
    # JSON answer or a log line. Present (with its digest and size) until applied or expired.
    planfile_data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    planfile_sha256: Mapped[str | None] = mapped_column(String(64))
    planfile_size: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[Any | None] = mapped_column(JSONDocument)
    output: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The policy checks' outcomes (JSON, bot.terraform.policy_results), and the head sha at which
    # someone with ``approve_policies`` let failing ones through (a new plan clears it).
    policy_results: Mapped[str | None] = mapped_column(Text)
    policies_approved_sha: Mapped[str | None] = mapped_column(String(64))


class DriftCheck(Base):
    """The latest drift check of a project: its plan on the default branch, and its drift issue."""

    __tablename__ = "drift_checks"
    __table_args__ = (UniqueConstraint("repo", "project", name="uq_drift_checks_project"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    project: Mapped[str] = mapped_column(String(255))
    dir: Mapped[str] = mapped_column(String(1024))
    workspace: Mapped[str] = mapped_column(String(255))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16))  # drift_schedule.DriftStatus
    headline: Mapped[str] = mapped_column(Text, default="")
    head_sha: Mapped[str | None] = mapped_column(String(64))
    issue_number: Mapped[int | None] = mapped_column(Integer)
    # The drift headline the last Slack note told of (None: no drift told of); see drift_notes.
    noted_headline: Mapped[str | None] = mapped_column(Text)


class TerraformJobRun(Base):
    """One plan or apply run as a Kubernetes Job: the work tree it fetches, the result it sends."""

    __tablename__ = "terraform_job_runs"
    # Not unique: a consumed or abandoned run of the same key stays until it is purged.
    __table_args__ = (Index("ix_terraform_job_runs_run_key", "run_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(String(64))  # bot.adapters.terraform_jobs.manifest.run_key
    operation: Mapped[str] = mapped_column(String(16))  # plan | apply
    namespace: Mapped[str] = mapped_column(String(253))
    job_name: Mapped[str] = mapped_column(String(63))
    token_sha256: Mapped[str] = mapped_column(String(64))  # the pod's token itself is never stored
    spec: Mapped[Any] = mapped_column(JSONDocument)
    # The gzip'd work tree and the pod's result JSON: deferred, so reading a run never loads them.
    bundle: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    result: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    status: Mapped[str] = mapped_column(String(16))  # TerraformJobRunStatus
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TerraformRun(Base):
    """One project's plan or apply on a pull request, with its output (``TerraformRunLine``)."""

    __tablename__ = "terraform_runs"
    __table_args__ = (
        Index("ix_terraform_runs_pull", "repo", "pr_number"),
        Index("ix_terraform_runs_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    pr_number: Mapped[int] = mapped_column(Integer)
    pr_url: Mapped[str | None] = mapped_column(String(1024))
    project: Mapped[str] = mapped_column(String(255), default="")  # "" when unnamed
    dir: Mapped[str] = mapped_column(String(1024))
    workspace: Mapped[str] = mapped_column(String(255))
    command: Mapped[str] = mapped_column(String(16))  # plan | apply
    head_sha: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # TerraformRunStatus
    requested_by: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))  # the project's result: planned, applied …
    headline: Mapped[str] = mapped_column(Text, default="")
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)  # lines past the cap were dropped


class TerraformRunLine(Base):
    """One line of a run's output, redacted, numbered from 1 in the order Terraform printed it."""

    __tablename__ = "terraform_run_lines"

    run_id: Mapped[int] = mapped_column(ForeignKey("terraform_runs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    step: Mapped[str] = mapped_column(String(16))  # init, workspace, plan, show, apply, run …
    line: Mapped[str] = mapped_column(Text)
