"""The durable state of the bot: received events, queued jobs, and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.storage.types import JSONDocument, UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


class EventStatus(StrEnum):
    QUEUED = "queued"  # jobs were enqueued and have not all finished
    IGNORED = "ignored"  # stored for the record; nothing acts on it, or every job found nothing to do
    DONE = "done"  # every job finished, and at least one acted
    FAILED = "failed"  # at least one job ran out of attempts


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"
    CANCELLED = "cancelled"  # stopped by a person (``/gitops cancel``); never retried


# The statuses below are stored as plain strings (String columns, JSON in the API): a StrEnum
# member *is* its value, so rows and answers are the same whether code writes the member or
# the string. Add a member here before a new value is stored anywhere.


class UpdateStatus(StrEnum):
    """``UpdateRequest.status``: what became of a version-bump pull request."""

    OPEN = "open"
    MERGED = "merged"
    CLOSED = "closed"
    SUPERSEDED = "superseded"  # a newer version's pull request replaced it
    DRY_RUN = "dry_run"  # decided in dry-run: no pull request was opened


class DeploymentStatus(StrEnum):
    """``Deployment.status``: a merged version change and its canary's outcome."""

    ANALYSING = "analysing"
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    SUPERSEDED = "superseded"
    RECORDED = "recorded"  # merged, but its config has no canary section: nothing to analyse


class AnalysisStatus(StrEnum):
    """``Analysis.status``: where a canary analysis is."""

    WAITING_ROLLOUT = "waiting_rollout"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    STOPPED_INCONCLUSIVE = "stopped_inconclusive"
    CANCELLED = "cancelled"  # a newer version merged before it finished


class PlanStatus(StrEnum):
    """``Plan.status``: the latest Terraform plan (or apply) of a project on a pull request."""

    PLANNED = "planned"
    NO_CHANGES = "no_changes"
    FAILED = "failed"  # the plan failed
    APPLIED = "applied"
    APPLY_FAILED = "apply_failed"


class TerraformJobRunStatus(StrEnum):
    """``TerraformJobRun.status``: where one Terraform Job's run is."""

    CREATED = "created"  # its Job may be running; no result yet
    FINISHED = "finished"  # the pod sent its result; the bot has not taken it yet
    CONSUMED = "consumed"  # the bot took the result (a new run starts afresh)
    ABANDONED = "abandoned"  # its Job was deleted or never started; nobody re-attaches to it


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


# -- version updates (registry / MLflow → pull request) ---------------------------------


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


# -- Terraform ------------------------------------------------------------------------


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


# -- deployments, canary analysis, rollback -----------------------------------------------


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


class SchedulerLease(Base):
    """Leader election: the one process whose lease is current runs the scheduler."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- Slack ---------------------------------------------------------------------------


class SlackThread(Base):
    """One Slack thread per deployment story, so a channel stays readable."""

    __tablename__ = "slack_threads"
    __table_args__ = (UniqueConstraint("key", name="uq_slack_threads_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(512))  # e.g. "<repo>:<deployment>:<version>"
    channel: Mapped[str] = mapped_column(String(64))
    thread_ts: Mapped[str] = mapped_column(String(32))
    state: Mapped[Any | None] = mapped_column(JSONDocument)  # what the top message shows
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- Terraform as Kubernetes Jobs ----------------------------------------------------------


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


# -- Terraform runs as the console shows them --------------------------------------------------


class TerraformRunStatus(StrEnum):
    """``TerraformRun.status``: where one project's plan or apply is."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # stopped (``/gitops cancel``, a lost lease) or its job ended without it


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


# -- the local forge (GITOPS_BOT_FORGE=local) -------------------------------------------


class LocalThread(Base):
    """A pull request or an issue on the local forge, numbered per repository and kind: pull
    requests 1, 2, 3 … whatever issues the bot opened (drift), so that what a person reads in the
    README is what they get. Its branches are real branches of the bare repository."""

    __tablename__ = "local_threads"
    __table_args__ = (UniqueConstraint("repo", "kind", "number", name="uq_local_threads_repo_kind_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # pull_request | issue
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))  # open | closed | merged
    author: Mapped[str] = mapped_column(String(255))
    head_ref: Mapped[str | None] = mapped_column(String(512))
    base_ref: Mapped[str | None] = mapped_column(String(255))
    head_sha: Mapped[str | None] = mapped_column(String(64))
    merge_sha: Mapped[str | None] = mapped_column(String(64))
    merged_by: Mapped[str | None] = mapped_column(String(255))
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[Any | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LocalComment(Base):
    """A comment on a local pull request or issue (its id is the comment id the bot sees)."""

    __tablename__ = "local_comments"
    __table_args__ = (Index("ix_local_comments_thread", "repo", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    number: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    reactions: Mapped[Any | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LocalReview(Base):
    """A review of a local pull request, in submission order."""

    __tablename__ = "local_reviews"
    __table_args__ = (Index("ix_local_reviews_thread", "repo", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    number: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32))  # ReviewState
    commit_id: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LocalStatus(Base):
    """A commit status on the local forge: the latest per (repository, commit, context)."""

    __tablename__ = "local_statuses"
    __table_args__ = (UniqueConstraint("repo", "sha", "context", name="uq_local_statuses_repo_sha_context"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    sha: Mapped[str] = mapped_column(String(64))
    context: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    target_url: Mapped[str | None] = mapped_column(String(1024))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
