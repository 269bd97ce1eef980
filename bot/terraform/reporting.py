"""What a ``plan`` or ``apply`` tells the world: the pull request's comments and commit statuses
(``gitops-bot/plan``, ``gitops-bot/apply``), Slack, the audit log and the job's log. The texts are
templates under ``templates/terraform/``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Literal

import structlog

from bot.adapters.forge.names import pull_reference
from bot.adapters.forge.port import CommitState, CommitStatus, Forge, PullRequest
from bot.config import RepoConfig
from bot.notify import TerraformResult
from bot.terraform.projects import ProjectTarget
from bot.terraform.results import ProjectResult, Status
from bot.terraform.runs import console_url, pull_runs_path

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.terraform")

Command = Literal["plan", "apply"]
PAST_TENSE: dict[Command, str] = {"plan": "planned", "apply": "applied"}


def render(services: Services, name: str, **context: object) -> str:
    return services.templates.get_template(f"terraform/{name}").render(**context)


def job_log(services: Services, repo: str, number: int, target: ProjectTarget) -> Callable[[str, str], None]:
    """Terraform's output, line by line and redacted, into the job's log as it runs."""
    redact = services.redactor().redact

    def on_line(step: str, line: str) -> None:
        log.info(
            "terraform.output", repo=repo, number=number, project=target.label, step=step, line=redact(line)
        )

    return on_line


_UNAVAILABLE = {
    "sandbox": "terraform sandbox unavailable",
    "local": "terraform unavailable",
    "kubernetes": "terraform jobs unavailable",
}


def refused_without_sandbox(
    services: Services,
    forge: Forge,
    repo: str,
    pr: PullRequest,
    command: Command,
    executable: str,
    requested_by: str,
) -> bool:
    """When the sandbox cannot be made, refuse the command (saying how to fix it) and return True."""
    status = services.terraform_status()
    if status.ok:
        return False
    body = render(
        services,
        "sandbox_unavailable.md.j2",
        detail=status.detail,
        command=command,
        executable=executable,
        mode=status.mode,
    )
    forge.create_comment(repo, pr.number, body)
    forge.set_commit_status(
        repo,
        pr.head_sha,
        CommitStatus(
            CommitState.FAILURE,
            f"gitops-bot/{command}",
            _UNAVAILABLE[status.mode],
            # The console's banner says why on every page; the runs page is the pull request's.
            console_url(services.settings.public_url, pull_runs_path(repo, pr.number)),
        ),
    )
    services.audit(
        kind=f"terraform.{command}",
        actor=requested_by,
        summary=f"{command} on {pull_reference(repo, pr.number)} refused: {status.detail}",
        repo=repo,
        target=f"#{pr.number}",
        outcome="refused",
        details={"reason": status.detail},
    )
    return True


def set_planning_status(
    forge: Forge, repo: str, pr: PullRequest, projects: int, target_url: str | None = None
) -> None:
    forge.set_commit_status(
        repo,
        pr.head_sha,
        CommitStatus(CommitState.PENDING, "gitops-bot/plan", f"planning {projects} project(s)", target_url),
    )


def set_final_status(
    forge: Forge,
    repo: str,
    pr: PullRequest,
    command: Command,
    results: Sequence[ProjectResult],
    done: Collection[Status],
    target_url: str | None = None,
) -> bool:
    """Green when every project's status is in ``done`` (then True), saying how many were;
    ``target_url``: the console's page of the runs (:func:`bot.terraform.runs.results_link`)."""
    count = sum(1 for result in results if result.status in done)
    succeeded = count == len(results)
    forge.set_commit_status(
        repo,
        pr.head_sha,
        CommitStatus(
            CommitState.SUCCESS if succeeded else CommitState.FAILURE,
            f"gitops-bot/{command}",
            f"{count}/{len(results)} projects {PAST_TENSE[command]}",
            target_url,
        ),
    )
    return succeeded


def audit_results(
    services: Services,
    repo: str,
    number: int,
    command: Command,
    results: Sequence[ProjectResult],
    *,
    requested_by: str,
    succeeded: bool,
) -> None:
    services.audit(
        kind=f"terraform.{command}",
        actor=requested_by,
        summary=f"{command} on {pull_reference(repo, number)}: "
        + "; ".join(f"{r.target.label}: {r.status}" for r in results),
        repo=repo,
        target=f"#{number}",
        outcome="done" if succeeded else "failed",
    )


def notify_results(
    services: Services,
    config: RepoConfig | None,
    repo: str,
    pr: PullRequest,
    command: Command,
    results: Sequence[ProjectResult],
    requested_by: str,
) -> None:
    """One Slack message per project, in the repository's channel."""
    channel = config.notify.slack.channel if config is not None and config.notify.slack else None
    for result in results:
        services.notifier.notify(
            TerraformResult(
                repo=repo,
                channel=channel,
                command=command,
                pr_number=pr.number,
                pr_url=pr.html_url,
                project=result.target.label,
                ok=result.ok,
                headline=result.headline or result.status,
                requested_by=requested_by,
            )
        )
