"""Carrying a version into the GitOps repository: the I/O around the pure planner.

``propose_update`` reads the deployment's config and target files from the default branch,
asks :func:`bot.updates.plan.plan_update` what to do, and makes it so: a branch
``gitops-bot/<deployment>/<version>`` with one commit on the default branch, a pull request
opened or updated by that branch (labels and reviewers from config), older bot pull requests for
the deployment closed as superseded, an ``UpdateRequest`` row and an audit action with the full
diff. In dry-run the same decisions are recorded and nothing is pushed.

Idempotent: a repeated event finds its branch already holding the planned files and its pull
request already saying what the plan says, and changes nothing.

Target files behind symbolic links that leave the repository are refused (``unusable_file``),
whether the forge's contents API or the work tree is the one to see the link (``targets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import structlog
from sqlalchemy import select

from bot.adapters.forge.port import ChangeOutcome, Forge, ForgeValidationError, PullRequestSpec
from bot.canary import VllmDefaults
from bot.canary.defaults import defaults_from_settings
from bot.config import Deployment, RepoConfig
from bot.notify import PromotionOpened, UpdateProposed, UpdateSuperseded
from bot.storage.models import UpdateRequest
from bot.updates.plan import (
    NoUpdate,
    PendingUpdate,
    UpdatePlan,
    branch_prefix,
    plan_update,
    version_from_branch,
)
from bot.updates.render import UpdateTexts, canary_plan
from bot.updates.source import UpdateSource, manual_source
from bot.updates.targets import UnsafeTarget, check_inside, read_targets

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.updates")

OutcomeStatus = Literal["opened", "updated", "unchanged", "refused", "dry_run"]


@dataclass(frozen=True)
class UpdateOutcome:
    status: OutcomeStatus
    message: str
    pr_number: int | None = None
    pr_url: str | None = None
    code: str = ""
    """The planner's code for no-ops and refusals (``already_current``, ``quarantined``, …)."""


def find_deployment(config: RepoConfig, name: str) -> Deployment | None:
    return next((deployment for deployment in config.deployments if deployment.name == name), None)


def propose_update(
    services: Services,
    *,
    repo: str,
    deployment: str,
    version: str,
    digest: str | None = None,
    source: UpdateSource,
    requested_by: str | None,
    explicit: bool = False,
    lift_quarantine: bool = False,
    installation_id: int | None = None,
    event_id: int | None = None,
) -> UpdateOutcome:
    """Open (or update) the pull request that deploys ``version`` to ``deployment`` in ``repo``.

    Updates of one deployment run one at a time across every worker and replica (a database
    lock), so two versions pushed together cannot both miss each other's open pull request."""
    with services.database.serialized(f"updates:{repo}:{deployment}"):
        return _propose_update(
            services,
            repo=repo,
            deployment=deployment,
            version=version,
            digest=digest,
            source=source,
            requested_by=requested_by,
            explicit=explicit,
            lift_quarantine=lift_quarantine,
            installation_id=installation_id,
            event_id=event_id,
        )


def _propose_update(
    services: Services,
    *,
    repo: str,
    deployment: str,
    version: str,
    digest: str | None = None,
    source: UpdateSource,
    requested_by: str | None,
    explicit: bool = False,
    lift_quarantine: bool = False,
    installation_id: int | None = None,
    event_id: int | None = None,
) -> UpdateOutcome:
    """Open (or update) the pull request that deploys ``version`` to ``deployment`` in ``repo``.

    ``explicit``: a person chose this version (``deploy`` permission checked by the caller): the
    tag policy and the never-backwards rule do not apply. ``lift_quarantine``: that person also
    chose to deploy a rolled-back version again; the lift is audited."""
    texts = UpdateTexts(services.templates)
    forge = services.forge_for_repo(repo, installation_id)
    loaded = services.repo_config(repo, installation_id)
    if loaded.config is None:
        return _finish(
            services, repo, deployment, version, "refused", loaded.problem() or "no config", event_id
        )
    config = loaded.config
    target = find_deployment(config, deployment)
    if target is None:
        known = ", ".join(d.name for d in config.deployments) or "none"
        reason = f"{repo}'s .gitops-bot.yaml has no deployment named {deployment!r} (deployments: {known})"
        return _finish(services, repo, deployment, version, "refused", reason, event_id)

    actor = requested_by or "gitops-bot"
    if lift_quarantine and version in services.quarantine.versions(repo=repo, deployment=deployment):
        if services.dry_run:
            log.info("updates.quarantine_lift_dry_run", repo=repo, deployment=deployment, version=version)
        else:
            services.quarantine.lift(repo=repo, deployment=deployment, version=version, by=actor)

    base = loaded.branch
    files = read_targets(forge, repo, (t.file for t in target.targets), base)
    pending = _pending_updates(forge, repo, deployment)
    quarantined = services.quarantine.versions(repo=repo, deployment=deployment)
    if lift_quarantine and services.dry_run:
        quarantined = quarantined - {version}
    plan = plan_update(
        repo=repo,
        deployment=target,
        version=version,
        digest=digest,
        files=files.texts,
        unusable=files.unusable,
        quarantined=quarantined,
        pending=pending,
        explicit=explicit,
    )
    if isinstance(plan, NoUpdate):
        status: OutcomeStatus = "refused" if plan.refused else "unchanged"
        return _finish(
            services,
            repo,
            deployment,
            version,
            status,
            plan.reason,
            event_id,
            code=plan.code,
            pr_number=plan.pending.number if plan.pending else None,
            pr_url=plan.pending.url if plan.pending else None,
            actor=actor,
        )

    canary = canary_plan(target, _vllm_defaults(services))
    title = texts.title(plan)
    body = texts.body(plan, source, canary, requested_by=actor)
    message = texts.commit_message(plan, source, requested_by=actor)
    channel = config.notify.slack.channel if config.notify.slack else None
    details = {
        "version": version,
        "digest": digest,
        "previous_version": plan.previous_version,
        "branch": plan.branch,
        "base": base,
        "reason": plan.reason,
        "source": source.as_json(),
        "diff": plan.diff,
        "title": title,
        "supersedes": [old.number for old in plan.supersedes],
        "explicit": explicit,
    }

    if services.dry_run:
        _record_request(
            services, plan, status="dry_run", pr=None, event_id=event_id, by=actor, details=details
        )
        text = _outcome_text(services, "dry_run", plan, reason=plan.reason)
        services.audit(
            kind="update.propose",
            actor=actor,
            summary=text,
            repo=repo,
            target=f"{deployment}@{version}",
            outcome="dry_run",
            details=details,
            event_id=event_id,
        )
        services.notifier.notify(
            UpdateProposed(
                repo=repo,
                channel=channel,
                dry_run=True,
                deployment=deployment,
                version=version,
                previous_version=plan.previous_version,
                source=source.summary,
                requested_by=requested_by,
            )
        )
        return UpdateOutcome("dry_run", text, code=plan.decision_code)

    own_branch_open = any(update.branch == plan.branch for update in pending)
    try:
        _push_branch(services, forge, plan, base=base, message=message, check_existing=own_branch_open)
    except UnsafeTarget as unsafe:
        # The work tree holds a link the contents API did not show (the branch moved since, or
        # the forge resolved it): a refusal like any other, not an error to retry.
        return _finish(
            services,
            repo,
            deployment,
            version,
            "refused",
            unsafe.reason,
            event_id,
            code="unusable_file",
            actor=actor,
        )
    change = forge.open_or_update_pull_request(
        repo,
        PullRequestSpec(
            head=plan.branch,
            base=base,
            title=title,
            body=body,
            labels=target.pull_request.labels,
            reviewers=target.pull_request.reviewers,
        ),
    )
    pr = change.pull_request
    for old in plan.supersedes:
        forge.close_pull_request(
            repo,
            old.number,
            comment=texts.superseded_comment(old, plan, new_number=pr.number, new_url=pr.html_url),
        )
    _record_request(services, plan, status="open", pr=pr, event_id=event_id, by=actor, details=details)

    status = {
        ChangeOutcome.CREATED: "opened",
        ChangeOutcome.UPDATED: "updated",
        ChangeOutcome.UNCHANGED: "unchanged",
    }[change.outcome]
    reason = "the pull request already proposes exactly this" if status == "unchanged" else plan.reason
    text = _outcome_text(services, status, plan, reason=reason, pr_number=pr.number, pr_url=pr.html_url)
    services.audit(
        kind="update.propose",
        actor=actor,
        summary=text,
        repo=repo,
        target=f"{deployment}@{version}",
        outcome=status,
        details={**details, "pr_number": pr.number, "pr_url": pr.html_url},
        event_id=event_id,
    )
    if status == "opened":
        services.notifier.notify(
            UpdateProposed(
                repo=repo,
                channel=channel,
                deployment=deployment,
                version=version,
                previous_version=plan.previous_version,
                pr_number=pr.number,
                pr_url=pr.html_url,
                source=source.summary,
                requested_by=requested_by,
            )
        )
        for old in plan.supersedes:
            services.notifier.notify(
                UpdateSuperseded(
                    repo=repo,
                    channel=channel,
                    deployment=deployment,
                    version=old.version,
                    pr_url=old.url,
                    superseded_by_version=version,
                    superseded_by_url=pr.html_url,
                )
            )
    return UpdateOutcome(status, text, pr.number, pr.html_url, code=plan.decision_code)


def promote(
    services: Services,
    *,
    repo: str,
    from_deployment: str,
    version: str,
    digest: str | None = None,
    requested_by: str,
    installation_id: int | None = None,
) -> UpdateOutcome:
    """Open the same update for the deployment named in ``from_deployment``'s ``promote.to``.

    Called when a canary passes, and by ``/gitops promote``. A promotion is explicit about its
    version (the canary proved it): the target's tag policy does not apply, so a production
    deployment can be set to move only by promotion. A quarantined version is still refused."""
    loaded = services.repo_config(repo, installation_id)
    if loaded.config is None:
        reason = loaded.problem() or "no config"
        return _finish(services, repo, from_deployment, version, "refused", reason, None)
    origin = find_deployment(loaded.config, from_deployment)
    if origin is None or origin.promote is None:
        reason = (
            f"{from_deployment} has no promote.to in {repo}'s .gitops-bot.yaml"
            if origin is not None
            else f"{repo}'s .gitops-bot.yaml has no deployment named {from_deployment!r}"
        )
        return _finish(services, repo, from_deployment, version, "refused", reason, None)
    to = origin.promote.to
    source = manual_source(
        f"promotion of {version} from {from_deployment} after its canary passed",
        requested_by,
        kind="promotion",
    )
    outcome = propose_update(
        services,
        repo=repo,
        deployment=to,
        version=version,
        digest=digest,
        source=source,
        requested_by=requested_by,
        explicit=True,
        installation_id=installation_id,
    )
    if outcome.status in ("opened", "dry_run"):
        channel = loaded.config.notify.slack.channel if loaded.config.notify.slack else None
        services.notifier.notify(
            PromotionOpened(
                repo=repo,
                channel=channel,
                dry_run=services.dry_run,
                deployment=from_deployment,
                version=version,
                to_deployment=to,
                pr_url=outcome.pr_url,
            )
        )
    return outcome


def report_unusable_config(ctx: object, repo: str, problem: str | None) -> None:
    """A GitOps repository whose config is missing or invalid: said once per event, in the audit
    log with every error's file, line and key, so the person who pushed sees why nothing moved."""
    services: Services = ctx.services  # type: ignore[attr-defined]
    event = getattr(ctx, "event", None)
    services.audit(
        kind="config.unusable",
        actor="gitops-bot",
        summary=problem or f"{repo} has no usable .gitops-bot.yaml",
        repo=repo,
        outcome="refused",
        event_id=event.id if event is not None else None,
    )
    log.warning("updates.config_unusable", repo=repo, problem=problem)


# -- helpers -------------------------------------------------------------------------------


def _read_text(forge: Forge, repo: str, path: str, ref: str) -> str | None:
    try:
        data = forge.read_file(repo, path, ref)
    except ForgeValidationError:  # not a file there (say, a symlink pushed to the bot's branch)
        return None
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _pending_updates(forge: Forge, repo: str, deployment: str) -> list[PendingUpdate]:
    pending = []
    for pr in forge.list_open_pull_requests(repo, head_prefix=branch_prefix(deployment)):
        version = version_from_branch(deployment, pr.head_ref)
        if version is not None and "/" not in version:
            pending.append(PendingUpdate(version, pr.number, pr.html_url, pr.head_ref))
    return pending


def _push_branch(
    services: Services, forge: Forge, plan: UpdatePlan, *, base: str, message: str, check_existing: bool
) -> None:
    """Make the branch hold one commit on ``base`` with the planned files, unless it already does.

    ``check_existing``: an open pull request has the branch already (a repeated event, or a new
    digest for the same tag): compare before rewriting it."""
    if check_existing and all(
        _read_text(forge, plan.repo, path, plan.branch) == text for path, text in plan.contents.items()
    ):
        return  # the branch already says what the plan says
    url = services.settings.clone_url(plan.repo)
    with services.git().worktree(url, base, sparse=sorted(plan.contents)) as tree:
        check_inside(tree.path, plan.contents)  # before anything is written through a link
        for path, text in plan.contents.items():
            tree.write_text(path, text)
        tree.commit(message)
        # The bot owns its branches: rewrite one left from an older base, but only from what the
        # mirror saw (a commit someone pushed to it since is not overwritten).
        tree.push(plan.branch, force_with_lease=True)


def _record_request(
    services: Services,
    plan: UpdatePlan,
    *,
    status: str,
    pr: object | None,
    event_id: int | None,
    by: str,
    details: dict[str, object],
) -> None:
    now = datetime.now(UTC)
    number = getattr(pr, "number", None)
    url = getattr(pr, "html_url", None)
    head = getattr(pr, "head_sha", None)
    with services.database.transaction() as session:
        row = session.scalar(
            select(UpdateRequest).where(UpdateRequest.repo == plan.repo, UpdateRequest.branch == plan.branch)
        )
        if row is None:
            row = UpdateRequest(repo=plan.repo, branch=plan.branch, created_at=now)
            session.add(row)
        row.deployment = plan.deployment.name
        row.version = plan.version
        row.digest = plan.digest
        row.status = status
        row.pr_number = number
        row.pr_url = url
        row.head_sha = head
        row.event_id = event_id if event_id is not None else row.event_id
        row.requested_by = by
        row.details = details
        row.updated_at = now
        session.flush()
        if status == "open":
            for old in plan.supersedes:
                previous = session.scalar(
                    select(UpdateRequest).where(
                        UpdateRequest.repo == plan.repo, UpdateRequest.branch == old.branch
                    )
                )
                if previous is not None:
                    previous.status = "superseded"
                    previous.superseded_by = row.id
                    previous.updated_at = now


def _outcome_line(services: Services, status: str, deployment: str, version: str, **context: object) -> str:
    """The one-line answer (templates/updates/outcome.txt.j2) for Slack, comments and the audit log."""
    template = services.templates.get_template("updates/outcome.txt.j2")
    return template.render(status=status, deployment=deployment, version=version, **context).strip()


def _outcome_text(
    services: Services,
    status: str,
    plan: UpdatePlan,
    *,
    reason: str,
    pr_number: int | None = None,
    pr_url: str | None = None,
) -> str:
    return _outcome_line(
        services,
        status,
        plan.deployment.name,
        plan.version,
        reason=reason,
        pr_number=pr_number,
        pr_url=pr_url,
        files=len(plan.changed_files),
    )


def _finish(
    services: Services,
    repo: str,
    deployment: str,
    version: str,
    status: OutcomeStatus,
    reason: str,
    event_id: int | None,
    *,
    code: str = "",
    pr_number: int | None = None,
    pr_url: str | None = None,
    actor: str = "gitops-bot",
) -> UpdateOutcome:
    """A no-op or refusal: audited (with the reason), nothing else."""
    text = _outcome_line(
        services, status, deployment, version, reason=reason, pr_number=pr_number, pr_url=pr_url, files=0
    )
    services.audit(
        kind="update.propose",
        actor=actor,
        summary=text,
        repo=repo,
        target=f"{deployment}@{version}",
        outcome=status,
        details={"code": code, "reason": reason},
        event_id=event_id,
    )
    log.info("updates.no_update", repo=repo, deployment=deployment, version=version, status=status, code=code)
    return UpdateOutcome(status, text, pr_number, pr_url, code=code)


def _vllm_defaults(services: Services) -> VllmDefaults:
    return defaults_from_settings(services.settings)
