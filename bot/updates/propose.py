"""Carrying a version into the GitOps repository: the I/O around the pure planner.

``propose_update`` reads the deployment's config and target files from the default branch,
asks :func:`bot.updates.plan.plan_update` what to do, and makes it so: a branch
``gitops-bot/<deployment>/<version>`` with one commit on the default branch, a pull request
opened or updated by that branch (labels and reviewers from config), older bot pull requests for
the deployment closed as superseded, an ``UpdateRequest`` row and an audit action with the full
diff. In dry-run the same decisions are recorded and nothing is pushed: both paths end in one
:class:`~bot.updates.outcome.Proposed` and share the recording (:func:`_record_and_announce`).

Idempotent: a repeated event finds its branch already holding the planned files and its pull
request already saying what the plan says, and changes nothing.

Target files behind symbolic links that leave the repository are refused (``unusable_file``),
whether the forge's contents API or the work tree is the one to see the link (``targets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from bot.adapters.forge.port import Forge, PullRequest, PullRequestSpec
from bot.canary.defaults import defaults_from_settings
from bot.config import Deployment, RepoConfig
from bot.notify import GatesFailed
from bot.updates.branch import pending_updates, push_branch
from bot.updates.coalesce import find_newer_pending
from bot.updates.gate_check import gate_report, refuses, set_gates_status
from bot.updates.gates import GateReport
from bot.updates.outcome import (
    OutcomeStatus,
    Proposed,
    UpdateAsk,
    UpdateOutcome,
    audit_details,
    live_proposal,
    no_update_status,
    planning_quarantine,
    proposal_notes,
    proposal_record,
    request_details,
)
from bot.updates.plan import NoUpdate, PendingUpdate, UpdatePlan, plan_update
from bot.updates.render import UpdateTexts, canary_plan
from bot.updates.source import UpdateSource
from bot.updates.store import UpdateStore
from bot.updates.targets import UnsafeTarget, read_targets

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.updates")


@dataclass(frozen=True)
class _Target:
    config: RepoConfig
    deployment: Deployment
    base: str


@dataclass(frozen=True)
class _Draft:
    """The words of a planned update, and what the audit log and the row keep of it."""

    title: str
    body: str
    commit_message: str
    channel: str | None
    details: dict[str, object]
    draft: bool = False
    """A draft pull request: the model gates failed (``on_gate_failure: draft``)."""


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
    """Open (or update) the pull request that deploys ``version`` to ``deployment`` in ``repo``
    (see :class:`~bot.updates.outcome.UpdateAsk` for ``explicit`` and ``lift_quarantine``)."""
    ask = UpdateAsk(
        repo=repo,
        deployment=deployment,
        version=version,
        source=source,
        requested_by=requested_by,
        digest=digest,
        explicit=explicit,
        lift_quarantine=lift_quarantine,
        installation_id=installation_id,
        event_id=event_id,
    )
    return propose(services, ask)


def propose(services: Services, ask: UpdateAsk) -> UpdateOutcome:
    """Updates of one deployment run one at a time across every worker and replica (a database
    lock), so two versions pushed together cannot both miss each other's open pull request."""
    with services.database.serialized(f"updates:{ask.repo}:{ask.deployment}"):
        return _propose(services, ask)


def _propose(services: Services, ask: UpdateAsk) -> UpdateOutcome:
    forge = services.forge_for_repo(ask.repo, ask.installation_id)
    target = _find_target(services, ask)
    if isinstance(target, UpdateOutcome):
        return target
    superseded = _superseded_by_pending(services, ask, target)
    if superseded is not None:
        return superseded
    _lift_quarantine_if_asked(services, ask)
    plan, pending = _plan(services, forge, ask, target)
    if isinstance(plan, NoUpdate):
        return record_no_update(
            services,
            ask,
            no_update_status(plan),
            plan.reason,
            code=plan.code,
            pending=plan.pending,
            actor=ask.actor,
        )
    gates = gate_report(services, target.deployment, ask.version)
    if refuses(target.deployment, gates):
        assert gates is not None
        return _refused_by_gates(services, ask, target, gates)
    draft = _draft(services, ask, target, plan, gates)
    # Asked again just before writing: a burst's later pushes often arrive while the first
    # update reads and plans, and the newest of them will write instead (one pull request).
    superseded = _superseded_by_pending(services, ask, target)
    if superseded is not None:
        return superseded
    if services.dry_run:
        return _record_and_announce(services, ask, plan, draft, Proposed("dry_run", plan.reason))
    own_branch_open = any(update.branch == plan.branch for update in pending)
    proposed = _open_pull_request(services, forge, ask, target, plan, draft, own_branch_open=own_branch_open)
    if isinstance(proposed, UpdateOutcome):
        return proposed
    set_gates_status(forge, ask.repo, proposed.head_sha, gates)
    return _record_and_announce(services, ask, plan, draft, proposed)


def _refused_by_gates(
    services: Services, ask: UpdateAsk, target: _Target, gates: GateReport
) -> UpdateOutcome:
    """``on_gate_failure: refuse``: no pull request; the audit log and Slack say which gates failed."""
    slack = target.config.notify.slack
    services.notifier.notify(
        GatesFailed(
            repo=ask.repo, channel=slack.channel if slack else None, dry_run=services.dry_run,
            deployment=ask.deployment, version=ask.version, reason=gates.reason, gates=gates.to_json(),
        )
    )  # fmt: skip
    return record_no_update(
        services, ask, "refused", f"model gates: {gates.reason}", code="gates_failed", actor=ask.actor,
        details={"gates": gates.to_json()},
    )  # fmt: skip


def _find_target(services: Services, ask: UpdateAsk) -> _Target | UpdateOutcome:
    loaded = services.repo_config(ask.repo, ask.installation_id)
    if loaded.config is None:
        return record_no_update(services, ask, "refused", loaded.problem() or "no config")
    deployment = find_deployment(loaded.config, ask.deployment)
    if deployment is None:
        known = ", ".join(d.name for d in loaded.config.deployments) or "none"
        reason = (
            f"{ask.repo}'s .gitops-bot.yaml has no deployment named {ask.deployment!r} (deployments: {known})"
        )
        return record_no_update(services, ask, "refused", reason)
    return _Target(loaded.config, deployment, loaded.branch)


def _superseded_by_pending(services: Services, ask: UpdateAsk, target: _Target) -> UpdateOutcome | None:
    """A burst coalesces: a newer version already waiting in the queue does this update's work."""
    if ask.explicit:
        return None
    newer = find_newer_pending(services, target.config, target.deployment, ask.version, ask.event_id)
    if newer is None:
        return None
    reason = UpdateTexts(services.templates).superseded_by_pending(newer.version, newer.event_id)
    return record_no_update(
        services,
        ask,
        "superseded",
        reason,
        code="superseded_by_pending",
        details={"by_event": newer.event_id, "by_version": newer.version},
    )


def _lift_quarantine_if_asked(services: Services, ask: UpdateAsk) -> None:
    if not ask.lift_quarantine:
        return
    if ask.version not in services.quarantine.versions(repo=ask.repo, deployment=ask.deployment):
        return
    if services.dry_run:
        log.info(
            "updates.quarantine_lift_dry_run", repo=ask.repo, deployment=ask.deployment, version=ask.version
        )
    else:
        services.quarantine.lift(repo=ask.repo, deployment=ask.deployment, version=ask.version, by=ask.actor)


def _plan(
    services: Services, forge: Forge, ask: UpdateAsk, target: _Target
) -> tuple[UpdatePlan | NoUpdate, list[PendingUpdate]]:
    files = read_targets(forge, ask.repo, target.deployment.edited_files, target.base)
    pending = pending_updates(forge, ask.repo, ask.deployment)
    quarantined = planning_quarantine(
        services.quarantine.versions(repo=ask.repo, deployment=ask.deployment),
        ask.version,
        lift=ask.lift_quarantine,
        dry_run=services.dry_run,
    )
    plan = plan_update(
        repo=ask.repo,
        deployment=target.deployment,
        version=ask.version,
        digest=ask.digest,
        files=files.texts,
        unusable=files.unusable,
        quarantined=quarantined,
        pending=pending,
        explicit=ask.explicit,
    )
    return plan, pending


def _draft(
    services: Services, ask: UpdateAsk, target: _Target, plan: UpdatePlan, gates: GateReport | None = None
) -> _Draft:
    texts = UpdateTexts(services.templates)
    canary = canary_plan(target.deployment, defaults_from_settings(services.settings))
    title = texts.title(plan)
    slack = target.config.notify.slack
    details = request_details(ask, plan, base=target.base, title=title)
    if gates is not None:
        details["gates"] = gates.to_json()
    return _Draft(
        title=title,
        body=texts.body(plan, ask.source, canary, requested_by=ask.actor, gates=gates),
        commit_message=texts.commit_message(plan, ask.source, requested_by=ask.actor),
        channel=slack.channel if slack else None,
        details=details,
        draft=gates is not None and not gates.passed,
    )


def _open_pull_request(
    services: Services,
    forge: Forge,
    ask: UpdateAsk,
    target: _Target,
    plan: UpdatePlan,
    draft: _Draft,
    *,
    own_branch_open: bool,
) -> Proposed | UpdateOutcome:
    """Push the branch, open (or update) its pull request and close the ones it supersedes."""
    try:
        push_branch(
            services,
            forge,
            plan,
            base=target.base,
            message=draft.commit_message,
            check_existing=own_branch_open,
        )
    except UnsafeTarget as unsafe:
        # The work tree holds a link the contents API did not show (the branch moved since, or
        # the forge resolved it): a refusal like any other, not an error to retry.
        return record_no_update(
            services, ask, "refused", unsafe.reason, code="unusable_file", actor=ask.actor
        )
    settings = target.deployment.pull_request
    spec = PullRequestSpec(
        head=plan.branch,
        base=target.base,
        title=draft.title,
        body=draft.body,
        labels=settings.labels,
        reviewers=settings.reviewers,
        draft=draft.draft,
    )
    change = forge.open_or_update_pull_request(ask.repo, spec)
    pr = change.pull_request
    _close_superseded(services, forge, plan, pr)
    return live_proposal(plan, change.outcome, number=pr.number, url=pr.html_url, head=pr.head_sha)


def _close_superseded(services: Services, forge: Forge, plan: UpdatePlan, new: PullRequest) -> None:
    texts = UpdateTexts(services.templates)
    for old in plan.supersedes:
        comment = texts.superseded_comment(old, plan, new_number=new.number, new_url=new.html_url)
        forge.close_pull_request(plan.repo, old.number, comment=comment)


def _record_and_announce(
    services: Services, ask: UpdateAsk, plan: UpdatePlan, draft: _Draft, proposed: Proposed
) -> UpdateOutcome:
    """One path for live and dry-run: the row, the audit action (with the diff), the notes."""
    UpdateStore(services.database).record_proposal(proposal_record(ask, plan, proposed, draft.details))
    text = UpdateTexts(services.templates).outcome(
        proposed.status,
        plan.deployment.name,
        plan.version,
        reason=proposed.reason,
        pr_number=proposed.pr_number,
        pr_url=proposed.pr_url,
        files=len(plan.changed_files),
        repo=plan.repo,
    )
    services.audit(
        kind="update.propose",
        actor=ask.actor,
        summary=text,
        repo=ask.repo,
        target=ask.target,
        outcome=proposed.status,
        details=audit_details(draft.details, proposed),
        event_id=ask.event_id,
    )
    for note in proposal_notes(ask, plan, proposed, channel=draft.channel):
        services.notifier.notify(note)
    return UpdateOutcome(proposed.status, text, proposed.pr_number, proposed.pr_url, code=plan.decision_code)


def record_no_update(
    services: Services,
    ask: UpdateAsk,
    status: OutcomeStatus,
    reason: str,
    *,
    code: str = "",
    pending: PendingUpdate | None = None,
    actor: str = "gitops-bot",
    details: dict[str, object] | None = None,
) -> UpdateOutcome:
    """A no-op or refusal: audited (with the reason), nothing else. ``pending``: the open pull
    request that makes this one unnecessary, if any."""
    pr_number = pending.number if pending else None
    pr_url = pending.url if pending else None
    text = UpdateTexts(services.templates).outcome(
        status, ask.deployment, ask.version, reason=reason, pr_number=pr_number, pr_url=pr_url, files=0,
        repo=ask.repo,
    )  # fmt: skip
    services.audit(
        kind="update.propose",
        actor=actor,
        summary=text,
        repo=ask.repo,
        target=ask.target,
        outcome=status,
        details={"code": code, "reason": reason, **(details or {})},
        event_id=ask.event_id,
    )
    log.info(
        "updates.no_update",
        repo=ask.repo,
        deployment=ask.deployment,
        version=ask.version,
        status=status,
        code=code,
    )
    return UpdateOutcome(status, text, pr_number, pr_url, code=code)
