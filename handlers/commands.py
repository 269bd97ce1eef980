"""PR comments: ``/gitops plan|apply|unlock|help`` (and ``atlantis …``), usage and "did you mean".

Deployment commands (``rollback``, ``promote``, ``status``) are handled in ``handlers.deployments``;
this module answers every help, usage and mistyped invocation, whatever the command.
"""

from __future__ import annotations

from bot.commands import Command, DidYouMean, Usage, parse_comment, render_comment_reply
from bot.deployments.service import authorize_comment
from bot.events.model import PullRequestComment
from bot.jobs import HandlerContext
from bot.routing import Router
from bot.terraform.pull_requests import apply_pull_request, plan_pull_request, unlock_pull_request

router = Router()

TERRAFORM_COMMANDS = frozenset({"plan", "apply", "unlock"})


@router.register("github", "issue_comment", "created", name="terraform.comment")
def comment(ctx: HandlerContext) -> None:
    event = ctx.domain
    if not isinstance(event, PullRequestComment) or (event.author_type or "").lower() == "bot":
        return
    services = ctx.services
    if not services.settings.repo_allowed(event.repo):
        return
    parsed = parse_comment(event.body)
    if isinstance(parsed, Usage | DidYouMean):
        if services.dry_run:
            return
        forge = services.forge_for_repo(event.repo, event.installation_id)
        forge.create_comment(event.repo, event.pr_number, render_comment_reply(parsed, services.templates))
        return
    if not isinstance(parsed, Command) or parsed.name not in TERRAFORM_COMMANDS:
        return
    executable = "atlantis" if parsed.via == "atlantis" else "/gitops"
    if services.dry_run:
        services.audit(
            kind=f"terraform.{parsed.name}",
            actor=event.author,
            summary=f"{executable} {parsed.name} on #{event.pr_number} (dry run: not run)",
            repo=event.repo,
            outcome="dry_run",
        )
        return
    forge = services.forge_for_repo(event.repo, event.installation_id)
    pr = forge.get_pull_request(event.repo, event.pr_number)
    if pr.is_fork and not services.settings.allow_fork_prs:
        forge.create_comment(
            event.repo, event.pr_number, "Terraform does not run for pull requests from forks here."
        )
        return
    loaded = services.repo_config(event.repo, event.installation_id)
    if not authorize_comment(
        services,
        forge,
        repo=event.repo,
        number=event.pr_number,
        config=loaded.config,
        command=parsed.name,
        login=event.author,
        audit_kind=f"terraform.{parsed.name}",
        shown=f"{executable} {parsed.name}",
    ):
        return
    forge.add_reaction(event.repo, event.comment_id, "eyes")
    common = {
        "repo": event.repo,
        "number": event.pr_number,
        "requested_by": event.author,
        "config": loaded.config,
        "installation_id": event.installation_id,
        "project": parsed.project,
        "directory": parsed.dir,
        "workspace": parsed.workspace,
        "extra_args": parsed.extra_args,
        "executable": executable,
    }
    if parsed.name == "plan":
        plan_pull_request(services, verbose=parsed.verbose, **common)  # type: ignore[arg-type]
    elif parsed.name == "apply":
        apply_pull_request(services, **common)  # type: ignore[arg-type]
    else:
        released = unlock_pull_request(services, repo=event.repo, number=event.pr_number)
        services.audit(
            kind="terraform.unlock",
            actor=event.author,
            summary=f"unlocked #{event.pr_number}: {len(released)} lock(s) released",
            repo=event.repo,
        )
        where = ", ".join(f"`{lock.key.dir}` ({lock.key.workspace})" for lock in released) or "none were held"
        forge.create_comment(
            event.repo,
            event.pr_number,
            f"🔓 Released this pull request's locks ({where}) and discarded its plans.",
        )
