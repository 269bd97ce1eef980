"""Pull request comments: ``/gitops …`` (and ``atlantis …``) through the one runner.

Two jobs look at every comment, as they always have (their handler names are stored in job
rows): the Terraform one runs ``plan``, ``apply``, ``unlock``, ``approve_policies`` and
``cancel`` (allowed to whoever may ``plan``) and answers every help, usage and mistyped
invocation, whatever the command; the deployments one
runs ``rollback``, ``promote``, ``pause``, ``resume`` and ``status``. Both gate the same way (no bots, allowed
repositories only, nothing performed in dry run) and hand the command to
:func:`bot.commands.execute.execute`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot import reasons
from bot.commands.execute import CommentReply, Invocation, execute
from bot.commands.grammar import Command, DidYouMean, NotForUs, Usage, parse_comment
from bot.commands.render import render_comment_reply
from bot.config import RepoConfig
from bot.events.model import PullRequestComment
from bot.reasons import Ignored
from bot.storage.models import Deployment
from bot.terraform.results import TerraformRequest

if TYPE_CHECKING:
    from bot.deployments.ladder_control import Action, Climbing
    from bot.services import Services

TERRAFORM_COMMANDS = frozenset({"plan", "apply", "unlock", "approve_policies", "cancel"})
# Commands checked against another command's ``permissions:`` entry.
PERMISSION_OF = {"cancel": "plan"}
DEPLOYMENT_COMMANDS = frozenset({"rollback", "promote", "pause", "resume", "status"})


@dataclass(frozen=True)
class CommentRun:
    """What a command's work needs: the comment, its parse, and the repository's config."""

    services: Services
    event: PullRequestComment
    command: Command
    config: RepoConfig | None
    executable: str


def addressed_to_us(services: Services, event: object) -> PullRequestComment | Ignored:
    """The comment, when a person wrote it on a pull request of an allowed repository; else why not."""
    if not isinstance(event, PullRequestComment):
        return reasons.not_this_kind("a pull request comment", getattr(event, "kind", None))
    if (event.author_type or "").lower() == "bot":
        return reasons.comment_by_a_bot(event.author)
    return event if services.settings.repo_allowed(event.repo) else reasons.repo_not_allowed(event.repo)


def run_terraform_comment(services: Services, event: PullRequestComment) -> Ignored | None:
    """Runs the comment's Terraform command (or answers its usage); why not, when it asks none."""
    parsed = parse_comment(event.body)
    if isinstance(parsed, Usage | DidYouMean):
        if not services.dry_run:
            forge = services.forge_for_repo(event.repo, event.installation_id)
            forge.create_comment(
                event.repo, event.pr_number, render_comment_reply(parsed, services.templates)
            )
        return None
    if isinstance(parsed, NotForUs):
        return reasons.not_a_command(parsed.reason)
    if not isinstance(parsed, Command) or parsed.name not in TERRAFORM_COMMANDS:
        return reasons.command_for_another_job("Terraform")
    executable = "atlantis" if parsed.via == "atlantis" else "/gitops"
    if services.dry_run:
        _audit_dry_run(services, event, f"terraform.{parsed.name}", f"{executable} {parsed.name}", "not run")
        return None
    forge = services.forge_for_repo(event.repo, event.installation_id)
    if forge.get_pull_request(event.repo, event.pr_number).is_fork and not services.settings.allow_fork_prs:
        forge.create_comment(
            event.repo, event.pr_number, "Terraform does not run for pull requests from forks here."
        )
        return None
    config = services.repo_config(event.repo, event.installation_id).config
    reply = CommentReply(
        services, forge, event.repo, event.pr_number, event.comment_id, f"terraform.{parsed.name}"
    )
    run = CommentRun(services, event, parsed, config, executable)
    execute(services, _invocation(run, TERRAFORM_WORK[parsed.name]), reply)
    return None


def run_deployment_comment(services: Services, event: PullRequestComment) -> Ignored | None:
    """Runs the comment's deployment command; why not, when it asks none."""
    parsed = parse_comment(event.body)
    if isinstance(parsed, NotForUs):
        return reasons.not_a_command(parsed.reason)
    if not isinstance(parsed, Command) or parsed.name not in DEPLOYMENT_COMMANDS:
        # Not ours: Terraform commands, help and usage are answered by the Terraform job.
        return reasons.command_for_another_job("deployment")
    if services.dry_run:
        _audit_dry_run(services, event, f"comment.{parsed.name}", f"/gitops {parsed.name}", "not performed")
        return None
    forge = services.forge_for_repo(event.repo, event.installation_id)
    config = services.repo_config(event.repo, event.installation_id).config
    reply = CommentReply(
        services, forge, event.repo, event.pr_number, event.comment_id, f"comment.{parsed.name}"
    )
    run = CommentRun(services, event, parsed, config, "/gitops")
    # Anyone who may comment on the pull request may read its deployments' status.
    invocation = _invocation(run, DEPLOYMENT_WORK[parsed.name], open_to_all=parsed.name == "status")
    execute(services, invocation, reply)
    return None


def _invocation(
    run: CommentRun, work: Callable[[CommentRun], str | None], *, open_to_all: bool = False
) -> Invocation:
    return Invocation(
        command=run.command.name,
        repo=run.event.repo,
        config=run.config,
        login=run.event.author,
        shown=f"{run.executable} {run.command.name}",
        work=lambda: work(run),
        installation_id=run.event.installation_id,
        open_to_all=open_to_all,
        permission=PERMISSION_OF.get(run.command.name),
    )


def _audit_dry_run(services: Services, event: PullRequestComment, kind: str, shown: str, what: str) -> None:
    services.audit(
        kind=kind,
        actor=event.author,
        summary=f"{shown} on #{event.pr_number} (dry run: {what})",
        repo=event.repo,
        outcome="dry_run",
    )


# -- the work of each command ------------------------------------------------------------------


def _terraform_request(run: CommentRun) -> TerraformRequest:
    return TerraformRequest(
        repo=run.event.repo,
        number=run.event.pr_number,
        requested_by=run.event.author,
        config=run.config,
        installation_id=run.event.installation_id,
        project=run.command.project,
        directory=run.command.dir,
        workspace=run.command.workspace,
        extra_args=run.command.extra_args,
        executable=run.executable,
    )


def _plan(run: CommentRun) -> None:
    from bot.terraform.pull_requests import plan_pull_request

    plan_pull_request(run.services, _terraform_request(run), verbose=run.command.verbose)


def _apply(run: CommentRun) -> None:
    from bot.terraform.pull_requests import apply_pull_request

    apply_pull_request(run.services, _terraform_request(run))


def _unlock(run: CommentRun) -> str:
    from bot.terraform.pull_requests import unlock_pull_request

    event = run.event
    released = unlock_pull_request(run.services, repo=event.repo, number=event.pr_number)
    run.services.audit(
        kind="terraform.unlock",
        actor=event.author,
        summary=f"unlocked #{event.pr_number}: {len(released)} lock(s) released",
        repo=event.repo,
    )
    where = ", ".join(f"`{lock.key.dir}` ({lock.key.workspace})" for lock in released) or "none were held"
    return f"🔓 Released this pull request's locks ({where}) and discarded its plans."


def _approve_policies(run: CommentRun) -> str:
    from bot.terraform.pull_requests import approve_policies

    event = run.event
    return approve_policies(
        run.services,
        repo=event.repo,
        number=event.pr_number,
        approved_by=event.author,
        installation_id=event.installation_id,
    )


def _cancel(run: CommentRun) -> str:
    from bot.commands.cancelling import cancel_pull_request

    event = run.event
    return cancel_pull_request(
        run.services,
        repo=event.repo,
        number=event.pr_number,
        cancelled_by=event.author,
        executable=run.executable,
        installation_id=event.installation_id,
    )


def _rollback(run: CommentRun) -> str | None:
    from bot.deployments.rollback import request_rollback

    event = run.event
    outcome = request_rollback(
        run.services,
        repo=event.repo,
        pr_number=event.pr_number,
        deployment=run.command.deployment,
        requested_by=event.author,
        reason=f"/gitops rollback by @{event.author}",
        installation_id=event.installation_id,
    )
    # An opened or merged revert is announced by the rollback itself.
    return None if outcome.status in ("opened", "merged") else outcome.message


def _promote(run: CommentRun) -> str:
    """A canary climbing its traffic steps skips to the last; otherwise the version is proposed for
    the deployment named in ``promote.to``."""
    from bot.updates.service import promote

    event = run.event
    climbing = _climbing(run)
    if climbing is not None:
        return _act_on_ladder(run, climbing, "promote")
    with run.services.database.sessions() as session:
        query = select(Deployment).where(
            Deployment.repo == event.repo, Deployment.pr_number == event.pr_number
        )
        if run.command.deployment:
            query = query.where(Deployment.name == run.command.deployment)
        row = session.scalar(query.order_by(Deployment.id.desc()))
    if row is None:
        return f"Nothing to promote: #{event.pr_number} has no merged deployment recorded."
    outcome = promote(
        run.services,
        repo=event.repo,
        from_deployment=row.name,
        version=row.version,
        digest=(row.details or {}).get("digest"),
        requested_by=event.author,
        installation_id=event.installation_id,
    )
    return outcome.message


def _climbing(run: CommentRun) -> Climbing | None:
    from bot.deployments.ladder_control import climbing_canary

    event = run.event
    return climbing_canary(
        run.services, repo=event.repo, pr_number=event.pr_number, deployment=run.command.deployment
    )


def _act_on_ladder(run: CommentRun, climbing: Climbing, action: Action) -> str:
    from bot.deployments.ladder_control import act

    return act(run.services, climbing, action, actor=run.event.author, from_comment=True).message


def _pause_or_resume(run: CommentRun) -> str:
    climbing = _climbing(run)
    if climbing is None:
        return (
            f"Nothing to {run.command.name}: #{run.event.pr_number} has no canary climbing traffic steps "
            "(a deployment whose canary has `steps`, merged and still being analysed)."
        )
    action: Action = "pause" if run.command.name == "pause" else "resume"
    return _act_on_ladder(run, climbing, action)


def _status(run: CommentRun) -> str:
    from bot.deployments.pull_status import pull_status
    from bot.deployments.status import deployment_status

    deployment = run.command.deployment
    statuses = deployment_status(run.services, repo=run.event.repo, deployment=deployment)
    pull = pull_status(run.services, run.event.repo, run.event.pr_number)
    template = run.services.templates.get_template("deployments/status.md.j2")
    return template.render(statuses=statuses, deployment=deployment, pull=pull, repo=run.event.repo)


TERRAFORM_WORK: dict[str, Callable[[CommentRun], str | None]] = {
    "plan": _plan,
    "apply": _apply,
    "unlock": _unlock,
    "approve_policies": _approve_policies,
    "cancel": _cancel,
}
DEPLOYMENT_WORK: dict[str, Callable[[CommentRun], str | None]] = {
    "rollback": _rollback,
    "promote": _promote,
    "pause": _pause_or_resume,
    "resume": _pause_or_resume,
    "status": _status,
}

__all__ = [
    "DEPLOYMENT_COMMANDS",
    "TERRAFORM_COMMANDS",
    "addressed_to_us",
    "run_deployment_comment",
    "run_terraform_comment",
]
