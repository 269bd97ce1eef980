"""Deployments: what a merge deployed, its canary analysis, and rollback through a git revert.

The I/O around :mod:`bot.deployments.plan` (pure) and :mod:`bot.deployments.analysis` (the loop):

* :func:`record_merge` — a merged pull request: which deployments it changed (read from git at
  the merge commit), one ``Deployment`` row each, and an ``Analysis`` when the deployment has a
  ``canary`` section. A merged *revert* pull request closes its rollback instead.
* :func:`finish_analysis` — the follow-up of an ended analysis: revert on failure (or only
  notify, per ``on_failure``), promote on success, and say so on the pull request.
* :func:`request_rollback` — open (and, when configured, merge) a ``git revert`` pull request of
  a deployment's merge commit, quarantine the version, tell the pull request and Slack. Used by
  the analysis, ``/gitops rollback`` and Slack's ``rollback``; never does the same rollback twice.
* :func:`deployment_status` — what is deployed where, for ``/gitops status`` and Slack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.adapters.forge.port import Forge, MergeMethod, PullRequestSpec
from bot.audit import record_action
from bot.canary.defaults import defaults_from_settings
from bot.config import RepoConfig
from bot.deployments import plan as plans
from bot.deployments.analysis import cancel_superseded
from bot.deployments.plan import AnalysisPlan, analysis_plan, deployments_touched
from bot.events.model import PullRequestChanged
from bot.notify import CanaryStarted, RollbackFailed, RollbackMerged, RollbackOpened
from bot.storage.models import Analysis, AnalysisInterval, Deployment, UpdateRequest
from bot.storage.types import utcnow

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.deployments")

RollbackStatus = Literal[
    "opened", "merged", "already_open", "nothing_to_revert", "refused", "conflict", "dry_run"
]


@dataclass(frozen=True)
class RollbackOutcome:
    status: RollbackStatus
    message: str
    pr_number: int | None = None
    pr_url: str | None = None


@dataclass(frozen=True)
class DeploymentStatus:
    repo: str
    name: str
    version: str
    previous_version: str | None
    status: str
    merged_at: datetime | None
    pr_number: int | None
    pr_url: str | None
    analysis_status: str | None = None
    analysis_reason: str | None = None
    verdicts: tuple[str, ...] = ()
    rollback_pr_url: str | None = None
    open_update_prs: tuple[tuple[str, str | None], ...] = field(default=())
    """(version, url) of the bot's open update pull requests for this deployment."""


def _channel(config: RepoConfig | None) -> str | None:
    return config.notify.slack.channel if config is not None and config.notify.slack else None


def _render(services: Services, name: str, **context: Any) -> str:
    return services.templates.get_template(f"deployments/{name}").render(**context)


# --------------------------------------------------------------------------- merges


def record_merge(services: Services, event: PullRequestChanged) -> list[int]:
    """Record the deployments a merged pull request made; returns the new deployment ids."""
    if not event.merged or not event.merge_commit_sha:
        return []
    if plans.is_revert_branch(event.head_ref):
        _revert_merged(services, event)
        return []
    loaded = services.repo_config(event.repo, event.installation_id)
    config = loaded.config
    if config is None or not config.deployments:
        return []
    mirror = services.git().mirror(services.settings.clone_url(event.repo))
    merge = event.merge_commit_sha
    parents = mirror.parents(merge)
    if not parents:
        return []
    before = parents[0]
    touched = deployments_touched(
        config,
        mirror.changed_files(before, merge),
        lambda path: mirror.show(merge, path),
        lambda path: mirror.show(before, path),
    )
    created: list[int] = []
    channel = _channel(config)
    defaults = defaults_from_settings(services.settings)
    for item in touched:
        deployment = next(d for d in config.deployments if d.name == item.name)
        now = utcnow()
        try:
            with services.database.transaction() as session:
                row = Deployment(
                    repo=event.repo,
                    name=item.name,
                    version=item.version,
                    previous_version=item.previous_version,
                    pr_number=event.number,
                    pr_url=event.html_url,
                    merge_commit_sha=merge,
                    merged_at=now,
                    status=plans.ANALYSING if deployment.canary else plans.RECORDED,
                    details={"digest": item.digest, "files": list(item.files), "title": event.title},
                    updated_at=now,
                )
                session.add(row)
                session.flush()
                # Older deployments of the same name: superseded, and their canaries stopped.
                cancel_superseded(session, repo=event.repo, name=item.name, newer_id=row.id, now=now)
                for older in session.scalars(
                    select(Deployment).where(
                        Deployment.repo == event.repo,
                        Deployment.name == item.name,
                        Deployment.id != row.id,
                        Deployment.status.in_((plans.ANALYSING, plans.PASSED, plans.RECORDED)),
                    )
                ):
                    older.status = plans.SUPERSEDED
                    older.updated_at = now
                plan: AnalysisPlan | None = None
                if deployment.canary is not None:
                    plan = analysis_plan(
                        repo=event.repo,
                        deployment=deployment,
                        canary=deployment.canary,
                        version=item.version,
                        stable_version=item.previous_version,
                        defaults=defaults,
                        channel=channel,
                        installation_id=event.installation_id,
                    )
                    waiting = plan.readiness is not None
                    session.add(
                        Analysis(
                            deployment_id=row.id,
                            status="waiting_rollout" if waiting else "running",
                            reason="waiting for the rollout" if waiting else "measuring",
                            config=plan.to_json(),
                            started_at=now,
                            next_run_at=now if waiting else now + timedelta(seconds=plan.interval_seconds),
                        )
                    )
                record_action(
                    session,
                    kind="deployment.recorded",
                    actor=event.author,
                    repo=event.repo,
                    target=f"{item.name}@{item.version}",
                    summary=(
                        f"#{event.number} merged: {item.name} {item.previous_version or '?'} → {item.version}"
                        + (" (canary analysis started)" if plan else " (no canary section: not analysed)")
                    ),
                    outcome="recorded",
                    dry_run=services.dry_run,
                    details={"merge_commit_sha": merge, "pr_number": event.number},
                )
                deployment_id = row.id
        except IntegrityError:
            log.info("deployments.already_recorded", repo=event.repo, name=item.name, merge=merge)
            continue
        created.append(deployment_id)
        with services.database.transaction() as session:
            update_row = session.scalar(
                select(UpdateRequest).where(
                    UpdateRequest.repo == event.repo, UpdateRequest.branch == event.head_ref
                )
            )
            if update_row is not None and update_row.status == "open":
                update_row.status = "merged"
        if plan is not None:
            services.notifier.notify(
                CanaryStarted(
                    repo=event.repo,
                    channel=channel,
                    dry_run=services.dry_run,
                    deployment=item.name,
                    version=item.version,
                    deployment_id=deployment_id,
                    pr_url=event.html_url,
                    duration_seconds=plan.duration_seconds,
                    interval_seconds=plan.interval_seconds,
                    metrics=[metric.name for metric in plan.metrics],
                )
            )
            if not services.dry_run:
                forge = services.forge_for_repo(event.repo, event.installation_id)
                forge.create_comment(
                    event.repo,
                    event.number,
                    _render(services, "canary_started.md.j2", plan=plan, deployment_id=deployment_id),
                )
    return created


def _revert_merged(services: Services, event: PullRequestChanged) -> None:
    """A revert pull request of ours merged: the deployment it undid is rolled back."""
    with services.database.transaction() as session:
        row = session.scalar(
            select(Deployment)
            .where(Deployment.repo == event.repo, Deployment.rollback_pr_number == event.number)
            .order_by(Deployment.id.desc())
        )
        if row is None or row.status == plans.ROLLED_BACK:
            return
        row.status = plans.ROLLED_BACK
        row.rolled_back_at = utcnow()
        row.updated_at = utcnow()
        name, version, previous, pr_url = row.name, row.version, row.previous_version, row.rollback_pr_url
        record_action(
            session,
            kind="rollback.merged",
            actor=event.author,
            repo=event.repo,
            target=f"{name}@{version}",
            summary=f"revert #{event.number} merged: {name} is back on {previous or 'its previous version'}",
            outcome="merged",
            dry_run=services.dry_run,
        )
    loaded = services.repo_config(event.repo, event.installation_id)
    services.notifier.notify(
        RollbackMerged(
            repo=event.repo,
            channel=_channel(loaded.config),
            deployment=name,
            version=version,
            pr_url=pr_url,
            restored_version=previous,
        )
    )


# --------------------------------------------------------------------------- the end of an analysis


def finish_analysis(services: Services, analysis_id: int) -> None:
    with services.database.sessions() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None:
            return
        deployment = session.get(Deployment, analysis.deployment_id)
        if deployment is None:
            return
        plan = AnalysisPlan.from_json(analysis.config)
        status, reason = analysis.status, analysis.reason or ""
        verdicts = list(
            session.scalars(
                select(AnalysisInterval.verdict)
                .where(AnalysisInterval.analysis_id == analysis_id)
                .order_by(AnalysisInterval.index)
            )
        )
        last = session.scalar(
            select(AnalysisInterval)
            .where(AnalysisInterval.analysis_id == analysis_id)
            .order_by(AnalysisInterval.index.desc())
        )
        evidence = last.measurements if last is not None else {}
        intervals = [
            {"index": row.index, "verdict": row.verdict, "at": row.at.isoformat(), **(row.measurements or {})}
            for row in session.scalars(
                select(AnalysisInterval)
                .where(AnalysisInterval.analysis_id == analysis_id)
                .order_by(AnalysisInterval.index)
            )
        ]
        deployment_id, pr_number, repo = deployment.id, deployment.pr_number, deployment.repo
        merge_sha = deployment.merge_commit_sha
    next_step = ""
    if status == "failed" and plan.on_failure == "revert":
        outcome = request_rollback(
            services,
            repo=repo,
            deployment=plan.deployment,
            deployment_id=deployment_id,
            requested_by=plans.BOT_ACTOR,
            reason=f"canary analysis failed: {reason}",
            installation_id=plan.installation_id,
            automerge=plan.rollback_automerge,
            evidence=intervals,
        )
        next_step = outcome.message
    elif status == "passed" and plan.promote_to:
        from bot.updates import promote

        promoted = promote(
            services,
            repo=repo,
            from_deployment=plan.deployment,
            version=plan.version,
            requested_by=plans.BOT_ACTOR,
            installation_id=plan.installation_id,
        )
        next_step = promoted.message
    if pr_number is not None and not services.dry_run:
        forge = services.forge_for_repo(repo, plan.installation_id)
        forge.create_comment(
            repo,
            pr_number,
            _render(
                services,
                "canary_finished.md.j2",
                plan=plan,
                status=status,
                reason=reason,
                verdicts=verdicts,
                evidence=evidence,
                next_step=next_step,
                merge_sha=merge_sha,
            ),
        )


# --------------------------------------------------------------------------- rollback


def _find_deployment(
    services: Services,
    *,
    repo: str,
    deployment: str | None,
    pr_number: int | None,
    deployment_id: int | None,
) -> Deployment | str | None:
    """The deployment to roll back, or a sentence saying why there is none (or which to choose)."""
    with services.database.sessions() as session:
        if deployment_id is not None:
            return session.get(Deployment, deployment_id)
        query = select(Deployment).where(Deployment.repo == repo)
        if pr_number is not None:
            query = query.where(Deployment.pr_number == pr_number)
        if deployment is not None:
            query = query.where(Deployment.name == deployment)
        rows = list(session.scalars(query.order_by(Deployment.merged_at.desc(), Deployment.id.desc())))
    if not rows:
        where = f"pull request #{pr_number}" if pr_number is not None else repo
        what = f"deployment {deployment!r}" if deployment else "deployment"
        return f"no merged {what} is recorded for {where}"
    if pr_number is not None and deployment is None and len({row.name for row in rows}) > 1:
        names = ", ".join(sorted({row.name for row in rows}))
        return (
            f"#{pr_number} deployed several deployments ({names}): "
            f"name one, e.g. `/gitops rollback {rows[0].name}`"
        )
    return rows[0]


def request_rollback(
    services: Services,
    *,
    repo: str,
    deployment: str | None = None,
    pr_number: int | None = None,
    requested_by: str,
    reason: str,
    installation_id: int | None = None,
    deployment_id: int | None = None,
    automerge: bool | None = None,
    evidence: list[dict[str, Any]] | None = None,
) -> RollbackOutcome:
    """Revert the deployment's merge commit in a pull request (merged when ``automerge``, or when
    the deployment's ``canary.rollback.automerge`` says so), and quarantine its version."""
    found = _find_deployment(
        services, repo=repo, deployment=deployment, pr_number=pr_number, deployment_id=deployment_id
    )
    if found is None or isinstance(found, str):
        message = f"Nothing to roll back: {found or 'unknown deployment'}."
        services.audit(
            kind="rollback.request", actor=requested_by, summary=message, repo=repo, outcome="refused"
        )
        return RollbackOutcome("nothing_to_revert", message)
    row = found
    decision = plans.rollback_decision(row.status, has_rollback_pr=row.rollback_pr_number is not None)
    if decision.verdict == "already_rolled_back":
        return RollbackOutcome(
            "refused",
            f"{row.name} {row.version}: {decision.reason}.",
            row.rollback_pr_number,
            row.rollback_pr_url,
        )
    if decision.verdict == "refused":
        message = f"Not rolling back {row.name} {row.version}: {decision.reason}."
        services.audit(
            kind="rollback.request", actor=requested_by, summary=message, repo=repo, outcome="refused"
        )
        return RollbackOutcome("refused", message)
    if decision.verdict == "resume" and row.rollback_pr_number is not None:
        return RollbackOutcome(
            "already_open",
            f"A rollback of {row.name} {row.version} is already open: #{row.rollback_pr_number}.",
            row.rollback_pr_number,
            row.rollback_pr_url,
        )

    loaded = services.repo_config(repo, installation_id)
    config = loaded.config
    if automerge is None:
        configured = next((d for d in (config.deployments if config else ()) if d.name == row.name), None)
        automerge = bool(configured and configured.canary and configured.canary.rollback.automerge)
    channel = _channel(config)
    target = f"{row.name}@{row.version}"
    details = {"merge_commit_sha": row.merge_commit_sha, "reason": reason, "automerge": automerge}

    if services.dry_run:
        message = (
            f"Dry run: would revert {row.merge_commit_sha[:12]} ({row.name} {row.version}) in a pull request."
        )
        services.audit(
            kind="rollback.request", actor=requested_by, summary=message, repo=repo, target=target,
            outcome="dry_run", details=details,
        )  # fmt: skip
        services.notifier.notify(
            RollbackOpened(
                repo=repo, channel=channel, dry_run=True, deployment=row.name, version=row.version,
                deployment_id=row.id, reason=reason, automerge=automerge, requested_by=requested_by,
            )
        )  # fmt: skip
        return RollbackOutcome("dry_run", message)

    # The version stays out until a person lifts the quarantine (an explicit deploy).
    services.quarantine.add(
        repo=repo, deployment=row.name, version=row.version, reason=reason, by=requested_by
    )
    with services.database.transaction() as session:
        current = session.get(Deployment, row.id)
        if current is not None:
            current.status = plans.ROLLING_BACK
            current.updated_at = utcnow()

    forge = services.forge_for_repo(repo, installation_id)
    branch = plans.revert_branch(row.name, row.version)
    url = services.settings.clone_url(repo)
    workspaces = services.git()
    mirror = workspaces.mirror(url)
    merge = row.merge_commit_sha
    parents = mirror.parents(merge)
    touched = mirror.changed_files(parents[0], merge) if parents else ()
    title = plans.revert_title((row.details or {}).get("title"), row.name, row.version)
    body = _render(
        services,
        "rollback_pr_body.md.j2",
        deployment=row,
        reason=reason,
        requested_by=requested_by,
        automerge=automerge,
        merge=merge,
        intervals=evidence or [],
    )
    with workspaces.worktree(url, sparse=list(touched) or None, refresh=False) as tree:
        result = tree.revert(merge, message=f"{title}\n\nThis reverts commit {merge}.\n\n{reason}\n")
        if result.outcome.value == "conflict":
            message = (
                f"Could not revert {merge[:12]} ({row.name} {row.version}): it conflicts with later changes "
                f"in {', '.join(result.conflicts)}. Revert it by hand."
            )
            _fail_rollback(services, row, channel, message, requested_by)
            return RollbackOutcome("conflict", message)
        if not result.ok:
            message = f"{row.name} {row.version}: {merge[:12]} is already undone on the default branch."
            _fail_rollback(services, row, channel, message, requested_by)
            return RollbackOutcome("nothing_to_revert", message)
        tree.push(branch, force_with_lease=True)
    change = forge.open_or_update_pull_request(
        repo,
        PullRequestSpec(
            head=branch, base=mirror.default_branch(), title=title, body=body, labels=("rollback",)
        ),
    )
    pr = change.pull_request
    status: RollbackStatus = "opened"
    with services.database.transaction() as session:
        current = session.get(Deployment, row.id)
        if current is not None:
            current.rollback_pr_number = pr.number
            current.rollback_pr_url = pr.html_url
            current.updated_at = utcnow()
    if automerge:
        merged = forge.merge_pull_request(
            repo, pr.number, expected_head_sha=pr.head_sha, method=MergeMethod.MERGE
        )
        if merged.merged:
            status = "merged"
        else:
            log.warning("deployments.rollback_not_merged", repo=repo, number=pr.number, reason=merged.message)
    message = (
        f"Rolled back {row.name} {row.version}: revert #{pr.number} merged."
        if status == "merged"
        else f"Opened revert #{pr.number} to roll back {row.name} {row.version}: {pr.html_url}"
    )
    services.audit(
        kind="rollback.request", actor=requested_by, summary=message, repo=repo, target=target,
        outcome=status, details={**details, "pr_number": pr.number, "pr_url": pr.html_url},
    )  # fmt: skip
    services.notifier.notify(
        RollbackOpened(
            repo=repo, channel=channel, deployment=row.name, version=row.version, deployment_id=row.id,
            pr_number=pr.number, pr_url=pr.html_url, reason=reason, automerge=automerge,
            requested_by=requested_by,
        )
    )  # fmt: skip
    if row.pr_number is not None:
        forge.create_comment(
            repo,
            row.pr_number,
            _render(services, "rollback_comment.md.j2", deployment=row, reason=reason, pr=pr, status=status),
        )
    return RollbackOutcome(status, message, pr.number, pr.html_url)


def _fail_rollback(
    services: Services, row: Deployment, channel: str | None, message: str, requested_by: str
) -> None:
    with services.database.transaction() as session:
        current = session.get(Deployment, row.id)
        if current is not None:
            current.status = plans.FAILED
            current.updated_at = utcnow()
    services.audit(
        kind="rollback.request", actor=requested_by, summary=message, repo=row.repo,
        target=f"{row.name}@{row.version}", outcome="failed",
    )  # fmt: skip
    services.notifier.notify(
        RollbackFailed(
            repo=row.repo, channel=channel, deployment=row.name, version=row.version, reason=message
        )
    )


# --------------------------------------------------------------------------- status


def deployment_status(
    services: Services, *, repo: str | None = None, deployment: str | None = None
) -> list[DeploymentStatus]:
    """The latest deployment of each (repo, name), newest first, with its analysis and open updates."""
    with services.database.sessions() as session:
        query = select(Deployment)
        if repo is not None:
            query = query.where(Deployment.repo == repo)
        if deployment is not None:
            query = query.where(Deployment.name == deployment)
        latest: dict[tuple[str, str], Deployment] = {}
        for row in session.scalars(query.order_by(Deployment.merged_at.desc(), Deployment.id.desc())):
            latest.setdefault((row.repo, row.name), row)
        result: list[DeploymentStatus] = []
        for (row_repo, name), row in latest.items():
            analysis = session.scalar(
                select(Analysis).where(Analysis.deployment_id == row.id).order_by(Analysis.id.desc())
            )
            verdicts: tuple[str, ...] = ()
            if analysis is not None:
                verdicts = tuple(
                    session.scalars(
                        select(AnalysisInterval.verdict)
                        .where(AnalysisInterval.analysis_id == analysis.id)
                        .order_by(AnalysisInterval.index)
                    )
                )
            updates = tuple(
                (update.version, update.pr_url)
                for update in session.scalars(
                    select(UpdateRequest).where(
                        UpdateRequest.repo == row_repo,
                        UpdateRequest.deployment == name,
                        UpdateRequest.status == "open",
                    )
                )
            )
            result.append(
                DeploymentStatus(
                    repo=row_repo,
                    name=name,
                    version=row.version,
                    previous_version=row.previous_version,
                    status=row.status,
                    merged_at=row.merged_at.replace(tzinfo=UTC)
                    if row.merged_at.tzinfo is None
                    else row.merged_at,
                    pr_number=row.pr_number,
                    pr_url=row.pr_url,
                    analysis_status=analysis.status if analysis else None,
                    analysis_reason=analysis.reason if analysis else None,
                    verdicts=verdicts,
                    rollback_pr_url=row.rollback_pr_url,
                    open_update_prs=updates,
                )
            )
    return result


def authorize(
    forge: Forge, repo: str, config: RepoConfig | None, command: str, login: str
) -> tuple[bool, str]:
    """The same rule for PR comments and Slack: ``permissions.<command>`` of the repo's config."""
    from bot.config.permissions import decide, rule_for

    rule = rule_for(command, config.permissions if config is not None else None)
    level = forge.permission_level(repo, login)
    owner = repo.split("/", 1)[0]
    teams = [team for team in rule.teams if forge.is_team_member(owner, team, login)]
    decision = decide(rule, login=login, level=level, member_of=teams)
    return decision.allowed, decision.reason


def authorize_comment(
    services: Services,
    forge: Forge,
    *,
    repo: str,
    number: int,
    config: RepoConfig | None,
    command: str,
    login: str,
    audit_kind: str,
    shown: str,
) -> bool:
    """:func:`authorize` for a pull request comment; a refusal is audited and answered on the PR."""
    allowed, why = authorize(forge, repo, config, command, login)
    if not allowed:
        services.audit(
            kind=audit_kind,
            actor=login,
            summary=f"refused {shown} on #{number}: {why}",
            repo=repo,
            outcome="refused",
        )
        forge.create_comment(repo, number, f"@{login} may not run `{command}` here: {why}.")
    return allowed


__all__ = [
    "DeploymentStatus",
    "RollbackOutcome",
    "authorize",
    "authorize_comment",
    "deployment_status",
    "finish_analysis",
    "record_merge",
    "request_rollback",
]
