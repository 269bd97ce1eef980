"""After a merge: record deployments, run their canary analyses, roll back through git.

Also Alertmanager alerts, which count as a failed interval of a canary they name. The deployment
commands on pull requests (``/gitops rollback``, ``promote``, ``status``) are in ``handlers.commands``.
"""

from __future__ import annotations

from bot import reasons
from bot.deployments import analysis, due_steps, stepping
from bot.deployments.follow_up import finish_analysis
from bot.deployments.ladder import is_step_branch
from bot.deployments.plan import is_revert_branch
from bot.deployments.record import record_merge
from bot.events.model import AlertNotification, PullRequestChanged
from bot.jobs import HandlerContext
from bot.reasons import Ignored
from bot.routing import Router
from bot.services import Services

router = Router()

DUE_STEPS_EVERY_SECONDS = 1.0


@router.register("github", "pull_request", "closed", name="deployments.pull_request_closed")
def pull_request_closed(ctx: HandlerContext) -> Ignored | None:
    event = ctx.domain
    if not isinstance(event, PullRequestChanged):
        return reasons.not_this_kind("a pull request change", getattr(event, "kind", None))
    if not event.merged:
        return reasons.closed_without_merge(event.repo, event.number)
    if not ctx.services.settings.repo_allowed(event.repo):
        return reasons.repo_not_allowed(event.repo)
    created = record_merge(ctx.services, event)
    ctx.log.info("deployments.recorded", repo=event.repo, number=event.number, deployments=created)
    if not created and not is_revert_branch(event.head_ref) and not is_step_branch(event.head_ref):
        return reasons.merge_changed_no_deployment(event.repo, event.number)
    return None


@router.register("internal", "deployments", "analysis_step", name=analysis.STEP_HANDLER)
def analysis_step(ctx: HandlerContext) -> None:
    index = ctx.payload.get("index")
    analysis.run_step(ctx.services, int(ctx.payload["analysis_id"]), None if index is None else int(index))


@router.register("internal", "deployments", "analysis_batch", name=due_steps.BATCH_HANDLER)
def analysis_batch(ctx: HandlerContext) -> None:
    """Every due analysis measured at once (bot.deployments.due_steps)."""
    stored = due_steps.measure_due(ctx.services)
    ctx.log.info("deployments.intervals_measured", stored=stored)


@router.register("internal", "deployments", "canary_step", name=stepping.STEP_JOB_HANDLER)
def canary_step(ctx: HandlerContext) -> None:
    """Commit the next rung's traffic weight and land it (bot.deployments.stepping)."""
    stepping.advance(ctx.services, int(ctx.payload["analysis_id"]), int(ctx.payload["to"]))


@router.register("internal", "deployments", "analysis_finished", name=analysis.FINISH_HANDLER)
def analysis_finished(ctx: HandlerContext) -> None:
    finish_analysis(ctx.services, int(ctx.payload["analysis_id"]))


@router.periodic("deployments.due_analysis_steps", every_seconds=DUE_STEPS_EVERY_SECONDS)
def due_analysis_steps(services: Services) -> int:
    """Leader only: one batch job for every due measurement, and a job per readiness poll (read
    only when something can be due: bot.deployments.due_check)."""
    return due_steps.check_due_steps(services)


@router.register("alertmanager", "alert", "firing", name="deployments.alert_firing")
def alert_firing(ctx: HandlerContext) -> Ignored | None:
    event = ctx.domain
    if not isinstance(event, AlertNotification):
        return reasons.not_this_kind("an Alertmanager notification", getattr(event, "kind", None))
    # One notification is one failed interval per deployment it names, however many alerts
    # (pods, replicas) it groups: a failure_limit of 2 means two notifications, not two pods.
    seen: set[tuple[str | None, str | None]] = set()
    counted_in: list[int] = []
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
        counted_in.extend(counted)
        ctx.log.info("deployments.alert", alertname=labels.get("alertname"), analyses=counted)
    if not seen:
        return reasons.no_firing_alert()
    if not counted_in:
        return reasons.no_analysis_for_alerts(sorted({name for name, _version in seen if name}))
    return None
