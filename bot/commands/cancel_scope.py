"""What ``cancel`` on a pull request stops, and what it tells (pure).

The pull request's Terraform work is the plan and apply jobs about it: the ``terraform.comment``
job of a ``plan`` or ``apply`` comment on it, and the ``terraform.pull_request`` job that
autoplans it after it opened, was pushed to or reopened. Not its other jobs: ``unlock``,
``approve_policies``, the help answers, and the job of its ``closed`` event, which releases its
locks (and applies ``apply_on: merge`` projects after the merge, which cancel does not stop:
the merge has happened).

Each job's event says what the job is about; the job's status says whether it is queued (it
will not run) or running (its Terraform is stopped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.commands.grammar import Command, parse_comment
from bot.events.model import MalformedEvent, PullRequestChanged, PullRequestComment, domain_event_from_json

TerraformCommand = Literal["plan", "apply"]

# The names handlers/ registers the plan and apply jobs under (stored in job rows: a contract).
COMMENT_HANDLER = "terraform.comment"
PULL_REQUEST_HANDLER = "terraform.pull_request"
HANDLERS = (COMMENT_HANDLER, PULL_REQUEST_HANDLER)
AUTOPLAN_ACTIONS = frozenset({"opened", "synchronize", "reopened"})
RUNNING = "running"
SHOWN_CHARS = 200
STATUS_CONTEXTS: Mapping[TerraformCommand, str] = {"plan": "gitops-bot/plan", "apply": "gitops-bot/apply"}


@dataclass(frozen=True)
class JobFacts:
    """A queued or running job, as the queue reports it."""

    id: int
    handler: str
    status: str
    event_domain: Mapping[str, Any] | None


@dataclass(frozen=True)
class TerraformWork:
    """One plan or apply job of the pull request."""

    job_id: int
    command: TerraformCommand
    running: bool
    requested_by: str
    shown: str  # the comment that asked for it ("/gitops plan -p staging"), or "autoplan"


def terraform_work(job: JobFacts, repo: str, number: int) -> TerraformWork | None:
    """The plan or apply this job runs for pull request ``repo#number``; None when it is not one."""
    if job.event_domain is None or job.handler not in HANDLERS:
        return None
    try:
        event = domain_event_from_json(job.event_domain)
    except (MalformedEvent, ValueError):
        return None  # a row this version cannot read is not something to cancel
    running = job.status == RUNNING
    if job.handler == COMMENT_HANDLER and isinstance(event, PullRequestComment):
        if (event.repo, event.pr_number) != (repo, number):
            return None
        parsed = parse_comment(event.body)
        if not isinstance(parsed, Command) or parsed.name not in STATUS_CONTEXTS:
            return None
        command: TerraformCommand = "plan" if parsed.name == "plan" else "apply"
        return TerraformWork(job.id, command, running, event.author, _shown(event.body))
    if job.handler == PULL_REQUEST_HANDLER and isinstance(event, PullRequestChanged):
        if (event.repo, event.number) != (repo, number) or event.action not in AUTOPLAN_ACTIONS:
            return None
        return TerraformWork(job.id, "plan", running, event.author, "autoplan")
    return None


def _shown(body: str) -> str:
    """The command as typed, on one line, fit for a code span (backticks would end it)."""
    text = " ".join(body.split()).replace("`", "'")
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "\N{HORIZONTAL ELLIPSIS}"


def pull_request_work(jobs: Iterable[JobFacts], repo: str, number: int) -> list[TerraformWork]:
    """The plan and apply jobs of ``repo#number`` among ``jobs``, in their order."""
    found = (terraform_work(job, repo, number) for job in jobs)
    return [work for work in found if work is not None]


def cancelled_statuses(work: Sequence[TerraformWork], cancelled_by: str) -> dict[str, str]:
    """The commit statuses a cancel sets to failure, by context, with their description."""
    commands = sorted({item.command for item in work}, key=list(STATUS_CONTEXTS).index)
    return {STATUS_CONTEXTS[command]: f"cancelled by @{cancelled_by}" for command in commands}


def audit_summary(number: int, work: Sequence[TerraformWork]) -> str:
    """One line for the audit log: which jobs, doing what, and where they were."""
    if not work:
        return f"nothing to cancel on #{number}"
    parts = [
        f"{item.command} job {item.job_id} ({'running' if item.running else 'queued'}, {item.shown})"
        for item in work
    ]
    return f"cancelled on #{number}: " + "; ".join(parts)


__all__ = [
    "HANDLERS",
    "STATUS_CONTEXTS",
    "JobFacts",
    "TerraformWork",
    "audit_summary",
    "cancelled_statuses",
    "pull_request_work",
    "terraform_work",
]
