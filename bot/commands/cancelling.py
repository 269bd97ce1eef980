"""``cancel`` on a pull request: stop its queued and running plans and applies, on any replica.

The request is durable and the queue carries it: the jobs move to ``cancelled`` in the database
(:meth:`bot.queue.JobQueue.cancel`). A queued job is then never claimed. A running one's worker,
wherever it runs, finds within seconds that the job is no longer its own (the heartbeat's check),
sets the job's stop signal, and the Terraform runner stops the process group (SIGINT, then
SIGKILL after the grace period) or deletes its Kubernetes Job, exactly as when a lease is lost.
No cancelled job is retried. Which jobs are the pull request's is :mod:`bot.commands.cancel_scope`.

What the pull request is told happens here, at once: one comment naming what was cancelled and by
whom, and ``gitops-bot/plan`` or ``gitops-bot/apply`` set to failure "cancelled by @login". Locks a
cancelled plan took are kept, as Atlantis keeps them, and so are saved plans: ``unlock`` releases
them. A plan or apply whose Terraform finished before its worker saw the cancel reports its result
as usual (it was not stopped).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.adapters.forge.port import CommitState, CommitStatus
from bot.commands.cancel_scope import (
    HANDLERS,
    JobFacts,
    TerraformWork,
    audit_summary,
    cancelled_statuses,
    pull_request_work,
)
from bot.terraform.runs import console_url, pull_runs_path

if TYPE_CHECKING:
    from bot.services import Services


def cancel_pull_request(
    services: Services,
    *,
    repo: str,
    number: int,
    cancelled_by: str,
    executable: str,
    installation_id: int | None = None,
) -> str:
    """Cancel the plans and applies of ``repo#number``; returns the comment that says what stopped."""
    queue = services.queue
    jobs = [JobFacts(job.id, job.handler, job.status, job.event_domain) for job in queue.unfinished(HANDLERS)]
    found = pull_request_work(jobs, repo, number)
    reason = f"cancelled by @{cancelled_by} ({executable} cancel)"
    moved = queue.cancel([item.job_id for item in found], reason)
    # What the cancel found, as the database had it when the jobs moved (some may have finished,
    # a queued one may have started meanwhile).
    cancelled = [
        TerraformWork(item.job_id, item.command, item.job_id in moved.running, item.requested_by, item.shown)
        for item in found
        if item.job_id in moved.queued or item.job_id in moved.running
    ]
    services.audit(
        kind="terraform.cancel",
        actor=cancelled_by,
        summary=audit_summary(number, cancelled),
        repo=repo,
        target=f"#{number}",
    )
    if cancelled:
        forge = services.forge_for_repo(repo, installation_id)
        head = forge.get_pull_request(repo, number).head_sha
        # Each status links to the pull request's runs in the console, as the plan's and apply's do.
        runs = console_url(services.settings.public_url, pull_runs_path(repo, number))
        for context, description in cancelled_statuses(cancelled, cancelled_by).items():
            forge.set_commit_status(repo, head, CommitStatus(CommitState.FAILURE, context, description, runs))
    template = services.templates.get_template("terraform/cancel_comment.md.j2")
    return template.render(
        cancelled_by=cancelled_by,
        running=[item for item in cancelled if item.running],
        queued=[item for item in cancelled if not item.running],
        executable=executable,
    ).strip()


__all__ = ["cancel_pull_request"]
