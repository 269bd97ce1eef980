"""After a merge: record deployments, run their canary analyses, roll back through git.

Also the deployment commands on pull requests (``/gitops rollback``, ``promote``, ``status``;
the Terraform commands are handled elsewhere) and Alertmanager alerts, which count as a failed
interval of a canary they name.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.commands import Command, parse_comment
from bot.deployments import analysis
from bot.deployments.service import (
    authorize_comment,
    deployment_status,
    finish_analysis,
    record_merge,
    request_rollback,
)
from bot.events.model import AlertNotification, PullRequestChanged, PullRequestComment
from bot.jobs import HandlerContext
from bot.routing import Router
from bot.services import Services
from bot.storage.models import Deployment

router = Router()

DEPLOYMENT_COMMANDS = frozenset({"rollback", "promote", "status"})
DUE_STEPS_EVERY_SECONDS = 1.0


@router.register("github", "pull_request", "closed", name="deployments.pull_request_closed")
def pull_request_closed(ctx: HandlerContext) -> None:
    event = ctx.domain
    if not isinstance(event, PullRequestChanged) or not event.merged:
        return
    if not ctx.services.settings.repo_allowed(event.repo):
        return
    created = record_merge(ctx.services, event)
    ctx.log.info("deployments.recorded", repo=event.repo, number=event.number, deployments=created)


@router.register("internal", "deployments", "analysis_step", name=analysis.STEP_HANDLER)
def analysis_step(ctx: HandlerContext) -> None:
    index = ctx.payload.get("index")
    analysis.run_step(ctx.services, int(ctx.payload["analysis_id"]), None if index is None else int(index))


@router.register("internal", "deployments", "analysis_finished", name=analysis.FINISH_HANDLER)
def analysis_finished(ctx: HandlerContext) -> None:
    finish_analysis(ctx.services, int(ctx.payload["analysis_id"]))


@router.periodic("deployments.due_analysis_steps", every_seconds=DUE_STEPS_EVERY_SECONDS)
def due_analysis_steps(services: Services) -> None:
    """Leader only: one job per due analysis step (dedupe keys make a second offer harmless)."""
    analysis.enqueue_due_steps(services)


@router.register("alertmanager", "alert", "firing", name="deployments.alert_firing")
def alert_firing(ctx: HandlerContext) -> None:
    event = ctx.domain
    if not isinstance(event, AlertNotification):
        return
    # One notification is one failed interval per deployment it names, however many alerts
    # (pods, replicas) it groups: a failure_limit of 2 means two notifications, not two pods.
    seen: set[tuple[str | None, str | None]] = set()
    for alert in event.alerts:
        if alert.status != "firing":
            continue
        labels = {**event.common_labels, **alert.labels}
        key = (labels.get("deployment"), labels.get("version"))
        if key in seen:
            continue
        seen.add(key)
        counted = analysis.record_alert(
            ctx.services,
            labels=labels,
            alertname=labels.get("alertname", "alert"),
            summary=alert.annotations.get("summary", "") or event.common_annotations.get("summary", ""),
            url=alert.generator_url,
        )
        ctx.log.info("deployments.alert", alertname=labels.get("alertname"), analyses=counted)


@router.register("github", "issue_comment", "created", name="deployments.comment")
def comment(ctx: HandlerContext) -> None:
    event = ctx.domain
    if not isinstance(event, PullRequestComment) or (event.author_type or "").lower() == "bot":
        return
    parsed = parse_comment(event.body)
    if not isinstance(parsed, Command) or parsed.name not in DEPLOYMENT_COMMANDS:
        return  # not ours: Terraform commands, help and usage are answered by the comments handler
    services = ctx.services
    if not services.settings.repo_allowed(event.repo):
        return
    forge = services.forge_for_repo(event.repo, event.installation_id)
    loaded = services.repo_config(event.repo, event.installation_id)
    if services.dry_run:
        services.audit(
            kind=f"comment.{parsed.name}",
            actor=event.author,
            summary=f"/gitops {parsed.name} on #{event.pr_number} (dry run: not performed)",
            repo=event.repo,
            outcome="dry_run",
        )
        return
    forge.add_reaction(event.repo, event.comment_id, "eyes")
    if parsed.name != "status" and not authorize_comment(
        services,
        forge,
        repo=event.repo,
        number=event.pr_number,
        config=loaded.config,
        command=parsed.name,
        login=event.author,
        audit_kind=f"comment.{parsed.name}",
        shown=f"/gitops {parsed.name}",
    ):
        return
    if parsed.name == "rollback":
        outcome = request_rollback(
            services,
            repo=event.repo,
            pr_number=event.pr_number,
            deployment=parsed.deployment,
            requested_by=event.author,
            reason=f"/gitops rollback by @{event.author}",
            installation_id=event.installation_id,
        )
        if outcome.status not in ("opened", "merged"):
            forge.create_comment(event.repo, event.pr_number, outcome.message)
    elif parsed.name == "promote":
        forge.create_comment(event.repo, event.pr_number, _promote(ctx, event, parsed))
    else:
        statuses = deployment_status(services, repo=event.repo, deployment=parsed.deployment)
        forge.create_comment(
            event.repo,
            event.pr_number,
            services.templates.get_template("deployments/status.md.j2").render(
                statuses=statuses, deployment=parsed.deployment
            ),
        )


def _promote(ctx: HandlerContext, event: PullRequestComment, parsed: Command) -> str:
    from bot.updates import promote

    with ctx.services.database.sessions() as session:
        query = select(Deployment).where(
            Deployment.repo == event.repo, Deployment.pr_number == event.pr_number
        )
        if parsed.deployment:
            query = query.where(Deployment.name == parsed.deployment)
        row = session.scalar(query.order_by(Deployment.id.desc()))
    if row is None:
        return f"Nothing to promote: #{event.pr_number} has no merged deployment recorded."
    outcome = promote(
        ctx.services,
        repo=event.repo,
        from_deployment=row.name,
        version=row.version,
        digest=(row.details or {}).get("digest"),
        requested_by=event.author,
        installation_id=event.installation_id,
    )
    return outcome.message
