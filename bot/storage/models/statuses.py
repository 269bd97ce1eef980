"""What each stored status may be: one StrEnum per status column."""

from __future__ import annotations

from enum import StrEnum


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


class TerraformRunStatus(StrEnum):
    """``TerraformRun.status``: where one project's plan or apply is."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # stopped (``/gitops cancel``, a lost lease) or its job ended without it
