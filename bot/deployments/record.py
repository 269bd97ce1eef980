"""A merged pull request: which deployments it changed, one ``Deployment`` row each, and a canary
analysis when the deployment has a ``canary`` section. A merged *revert* pull request of ours
closes its rollback instead, and a merged step pull request lands its rung (``bot.deployments.stepping``).

What changed is read from git at the merge commit (:func:`bot.deployments.merged.deployments_touched`
decides); the rows are written by :class:`bot.deployments.store.DeploymentStore`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from bot.adapters.forge.names import pull_reference
from bot.canary.defaults import defaults_from_settings
from bot.config import Canary, RepoConfig
from bot.deployments import plan as plans
from bot.deployments.ladder import is_step_branch, shadow_location, weight_problem
from bot.deployments.merged import TouchedDeployment, deployments_touched
from bot.deployments.plan import AnalysisPlan, analysis_plan
from bot.deployments.stepping import step_merged
from bot.deployments.store import DeploymentStore, NewDeployment
from bot.deployments.texts import render, slack_channel
from bot.events.model import PullRequestChanged
from bot.notify import CanaryStarted, RollbackMerged
from bot.updates.store import UpdateStore

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.deployments")


def record_merge(services: Services, event: PullRequestChanged) -> list[int]:
    """Record the deployments a merged pull request made; returns the new deployment ids."""
    if not event.merged or not event.merge_commit_sha:
        return []
    if plans.is_revert_branch(event.head_ref):
        _revert_merged(services, event)
        return []
    if is_step_branch(event.head_ref):
        step_merged(services, event)
        return []
    config = services.repo_config(event.repo, event.installation_id).config
    if config is None or not config.deployments:
        return []
    created: list[int] = []
    for item in _touched(services, config, event.repo, event.merge_commit_sha):
        deployment_id = _record_one(services, event, config, item)
        if deployment_id is not None:
            created.append(deployment_id)
    return created


def _touched(services: Services, config: RepoConfig, repo: str, merge: str) -> list[TouchedDeployment]:
    """The configured deployments whose version the merge commit changed, read from git."""
    mirror = services.git().mirror(services.settings.clone_url(repo))
    parents = mirror.parents(merge)
    if not parents:
        return []
    before = parents[0]
    return deployments_touched(
        config,
        mirror.changed_files(before, merge),
        lambda path: mirror.show(merge, path),
        lambda path: mirror.show(before, path),
    )


def _record_one(
    services: Services, event: PullRequestChanged, config: RepoConfig, item: TouchedDeployment
) -> int | None:
    """One deployment of the merge: recorded, its update PR marked merged, its canary announced.
    None when this merge was recorded already (a redelivered webhook)."""
    plan = _canary_plan(services, event, config, item)
    new = NewDeployment(
        repo=event.repo,
        name=item.name,
        version=item.version,
        previous_version=item.previous_version,
        pr_number=event.number,
        pr_url=event.html_url,
        merge_commit_sha=str(event.merge_commit_sha),
        details={"digest": item.digest, "files": list(item.files), "title": event.title},
        canary=plan,
    )
    store = DeploymentStore(services.database)
    deployment_id = store.record(
        new, actor=event.author, summary=_recorded_summary(event, item, plan), dry_run=services.dry_run
    )
    if deployment_id is None:
        log.info("deployments.already_recorded", repo=event.repo, name=item.name, merge=new.merge_commit_sha)
        return None
    _mark_update_merged(services, event)
    if plan is not None:
        _announce_canary(services, event, plan, deployment_id, slack_channel(config))
    return deployment_id


def _canary_plan(
    services: Services, event: PullRequestChanged, config: RepoConfig, item: TouchedDeployment
) -> AnalysisPlan | None:
    deployment = next(d for d in config.deployments if d.name == item.name)
    if deployment.canary is None:
        return None
    return analysis_plan(
        shadow_problem=_shadow_problem(services, event, deployment.canary),
        repo=event.repo,
        deployment=deployment,
        canary=deployment.canary,
        version=item.version,
        stable_version=item.previous_version,
        defaults=defaults_from_settings(services.settings),
        channel=slack_channel(config),
        installation_id=event.installation_id,
    )


def _shadow_problem(services: Services, event: PullRequestChanged, canary: Canary) -> str | None:
    """Why the shadow stage cannot run: the merge commit has nowhere to write the mirror (git is the
    truth, as for the update's pull request, which left the shadow out for the same reason)."""
    mirror = shadow_location(canary)
    if mirror is None or not event.merge_commit_sha:
        return None
    text = (
        services.git()
        .mirror(services.settings.clone_url(event.repo))
        .show(event.merge_commit_sha, mirror.file)
    )
    return weight_problem(text, mirror, "the shadow's weight_target")


def _recorded_summary(event: PullRequestChanged, item: TouchedDeployment, plan: AnalysisPlan | None) -> str:
    analysed = " (canary analysis started)" if plan else " (no canary section: not analysed)"
    pull = pull_reference(event.repo, event.number)
    return f"{pull} merged: {item.name} {item.previous_version or '?'} → {item.version}{analysed}"


def _mark_update_merged(services: Services, event: PullRequestChanged) -> None:
    """The bot's update pull request that made this deployment is merged now."""
    UpdateStore(services.database).mark_merged(event.repo, event.head_ref, head_sha=event.head_sha)


def _announce_canary(
    services: Services, event: PullRequestChanged, plan: AnalysisPlan, deployment_id: int, channel: str | None
) -> None:
    services.notifier.notify(
        CanaryStarted(
            repo=event.repo,
            channel=channel,
            dry_run=services.dry_run,
            deployment=plan.deployment,
            version=plan.version,
            deployment_id=deployment_id,
            pr_url=event.html_url,
            duration_seconds=plan.duration_seconds,
            interval_seconds=plan.interval_seconds,
            metrics=[metric.name for metric in plan.metrics],
            step_label=plan.ladder.label(0) if plan.ladder is not None else None,
        )
    )
    if not services.dry_run:
        forge = services.forge_for_repo(event.repo, event.installation_id)
        comment = render(services, "canary_started.md.j2", plan=plan, deployment_id=deployment_id)
        forge.create_comment(event.repo, event.number, comment)


def _revert_merged(services: Services, event: PullRequestChanged) -> None:
    """A revert pull request of ours merged: the deployment it undid is rolled back."""
    store = DeploymentStore(services.database)
    row = store.rolled_back(
        repo=event.repo, rollback_pr_number=event.number, actor=event.author, dry_run=services.dry_run
    )
    if row is None:
        return
    config = services.repo_config(event.repo, event.installation_id).config
    services.notifier.notify(
        RollbackMerged(
            repo=event.repo,
            channel=slack_channel(config),
            deployment=row.name,
            version=row.version,
            pr_url=row.rollback_pr_url,
            restored_version=row.previous_version,
        )
    )


__all__ = ["record_merge"]
