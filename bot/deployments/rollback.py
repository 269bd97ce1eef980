"""Rollback through git: find the deployment → decide → revert its merge commit → open (and, when
configured, merge) the revert pull request → record and tell.

Used by the canary follow-up, ``/gitops rollback`` and Slack's ``rollback``; never does the same
rollback twice (:func:`bot.deployments.plan.decide_rollback` decides, purely). The version is
quarantined before anything is pushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from bot.adapters.forge.names import pull_reference
from bot.adapters.forge.port import Forge, MergeMethod, PullRequest, PullRequestSpec
from bot.deployments import plan as plans
from bot.deployments.ladder_store import LadderStore
from bot.deployments.plan import RollbackOutcome, RollbackStatus
from bot.deployments.store import DeployedVersion, DeploymentStore
from bot.deployments.texts import render, slack_channel
from bot.notify import RollbackFailed, RollbackOpened

if TYPE_CHECKING:
    from bot.adapters.git import Mirror
    from bot.config import RepoConfig
    from bot.services import Services

log = structlog.get_logger("gitops_bot.deployments")


@dataclass(frozen=True)
class RollbackRequest:
    """A rollback that goes ahead, with everything its steps say and record."""

    repo: str
    deployment: DeployedVersion
    reason: str
    requested_by: str
    automerge: bool
    channel: str | None
    installation_id: int | None
    evidence: list[dict[str, Any]]

    @property
    def target(self) -> str:
        return f"{self.deployment.name}@{self.deployment.version}"

    @property
    def details(self) -> dict[str, Any]:
        return {
            "merge_commit_sha": self.deployment.merge_commit_sha,
            "reason": self.reason,
            "automerge": self.automerge,
        }


@dataclass(frozen=True)
class Reverted:
    """The revert commit, pushed on ``branch``."""

    branch: str
    base: str
    title: str


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
    found = find_deployment(
        services, repo=repo, deployment=deployment, pr_number=pr_number, deployment_id=deployment_id
    )
    start = plans.decide_rollback(found, dry_run=services.dry_run)
    if start.action == "stop" or not isinstance(found, DeployedVersion):
        assert start.outcome is not None
        if start.audited:
            services.audit(
                kind="rollback.request", actor=requested_by, summary=start.outcome.message, repo=repo,
                outcome="refused", details={"reason": start.outcome.message},
            )  # fmt: skip
        return start.outcome
    config = services.repo_config(repo, installation_id).config
    request = RollbackRequest(
        repo=repo,
        deployment=found,
        reason=reason,
        requested_by=requested_by,
        automerge=automerge if automerge is not None else configured_automerge(config, found.name),
        channel=slack_channel(config),
        installation_id=installation_id,
        evidence=evidence or [],
    )
    if start.action == "dry_run":
        assert start.outcome is not None
        return _dry_run(services, request, start.outcome)
    return _roll_back(services, request)


def find_deployment(
    services: Services,
    *,
    repo: str,
    deployment: str | None,
    pr_number: int | None,
    deployment_id: int | None,
) -> DeployedVersion | str | None:
    """The deployment to roll back, or a sentence saying why there is none (or which to choose)."""
    store = DeploymentStore(services.database)
    if deployment_id is not None:
        return store.get(deployment_id)
    rows = store.newest_first(repo=repo, name=deployment, pr_number=pr_number)
    if not rows:
        where = f"pull request {pull_reference(repo, pr_number)}" if pr_number is not None else repo
        what = f"deployment {deployment!r}" if deployment else "deployment"
        return f"no merged {what} is recorded for {where}"
    names = sorted({row.name for row in rows})
    if pr_number is not None and deployment is None and len(names) > 1:
        return (
            f"{pull_reference(repo, pr_number)} deployed several deployments ({', '.join(names)}): "
            f"name one, e.g. `/gitops rollback {rows[0].name}`"
        )
    return rows[0]


def configured_automerge(config: RepoConfig | None, name: str) -> bool:
    configured = next((d for d in (config.deployments if config else ()) if d.name == name), None)
    return bool(configured and configured.canary and configured.canary.rollback.automerge)


def _dry_run(services: Services, request: RollbackRequest, outcome: RollbackOutcome) -> RollbackOutcome:
    row = request.deployment
    services.audit(
        kind="rollback.request", actor=request.requested_by, summary=outcome.message, repo=request.repo,
        target=request.target, outcome="dry_run", details=request.details,
    )  # fmt: skip
    services.notifier.notify(
        RollbackOpened(
            repo=request.repo, channel=request.channel, dry_run=True, deployment=row.name,
            version=row.version, deployment_id=row.id, reason=request.reason,
            automerge=request.automerge, requested_by=request.requested_by,
        )
    )  # fmt: skip
    return outcome


def _roll_back(services: Services, request: RollbackRequest) -> RollbackOutcome:
    row = request.deployment
    # The version stays out until a person lifts the quarantine (an explicit deploy).
    services.quarantine.add(
        repo=request.repo, deployment=row.name, version=row.version, reason=request.reason,
        by=request.requested_by,
    )  # fmt: skip
    DeploymentStore(services.database).set_status(row.id, plans.ROLLING_BACK)
    forge = services.forge_for_repo(request.repo, request.installation_id)
    reverted = _revert(services, request)
    if isinstance(reverted, RollbackOutcome):
        return reverted
    pr, status = _open(services, forge, request, reverted)
    return _record(services, forge, request, pr, status)


def _revert(services: Services, request: RollbackRequest) -> Reverted | RollbackOutcome:
    """Revert the canary's step commits (newest first), then the merge commit, on the revert branch
    and push it; the failure's outcome if it cannot. With traffic steps the files end byte-identical
    to before the update: the old version at its old weight."""
    row, merge = request.deployment, request.deployment.merge_commit_sha
    url = services.settings.clone_url(request.repo)
    workspaces = services.git()
    mirror = workspaces.mirror(url)
    commits = [*LadderStore(services.database).step_commits(row.id), merge]
    touched = sorted({path for sha in commits for path in _changed_by(mirror, sha)})
    title = plans.revert_title(row.title, row.name, row.version)
    branch = plans.revert_branch(row.name, row.version)
    with workspaces.worktree(url, sparse=touched or None, refresh=False) as tree:
        for sha in commits:
            result = tree.revert(sha, message=f"{title}\n\nThis reverts commit {sha}.\n\n{request.reason}\n")
            if result.outcome.value == "conflict":
                message = (
                    f"Could not revert {sha[:12]} ({row.name} {row.version}): it conflicts with later "
                    f"changes in {', '.join(result.conflicts)}. Revert it by hand."
                )
                return _fail(services, request, RollbackOutcome("conflict", message))
            if not result.ok and sha == merge:
                message = f"{row.name} {row.version}: {merge[:12]} is already undone on the default branch."
                return _fail(services, request, RollbackOutcome("nothing_to_revert", message))
        tree.push(branch, force_with_lease=True)
    return Reverted(branch=branch, base=mirror.default_branch(), title=title)


def _changed_by(mirror: Mirror, sha: str) -> tuple[str, ...]:
    parents = mirror.parents(sha)
    return mirror.changed_files(parents[0], sha) if parents else ()


def _open(
    services: Services, forge: Forge, request: RollbackRequest, reverted: Reverted
) -> tuple[PullRequest, RollbackStatus]:
    """Open (or update) the revert pull request, and merge it when ``automerge``."""
    body = render(
        services, "rollback_pr_body.md.j2", deployment=request.deployment, reason=request.reason,
        requested_by=request.requested_by, automerge=request.automerge,
        merge=request.deployment.merge_commit_sha, intervals=request.evidence,
    )  # fmt: skip
    spec = PullRequestSpec(
        head=reverted.branch, base=reverted.base, title=reverted.title, body=body, labels=("rollback",)
    )
    pr = forge.open_or_update_pull_request(request.repo, spec).pull_request
    DeploymentStore(services.database).set_rollback_pull_request(
        request.deployment.id, pr.number, pr.html_url
    )
    if not request.automerge:
        return pr, "opened"
    merged = forge.merge_pull_request(
        request.repo, pr.number, expected_head_sha=pr.head_sha, method=MergeMethod.MERGE
    )
    if merged.merged:
        return pr, "merged"
    log.warning("deployments.rollback_not_merged", repo=request.repo, number=pr.number, reason=merged.message)
    return pr, "opened"


def _record(
    services: Services, forge: Forge, request: RollbackRequest, pr: PullRequest, status: RollbackStatus
) -> RollbackOutcome:
    """Audit the rollback, tell Slack, and answer on the pull request that deployed the version."""
    row = request.deployment
    revert = pull_reference(request.repo, pr.number)
    message = (
        f"Rolled back {row.name} {row.version}: revert {revert} merged."
        if status == "merged"
        else f"Opened revert {revert} to roll back {row.name} {row.version}: {pr.html_url}"
    )
    services.audit(
        kind="rollback.request", actor=request.requested_by, summary=message, repo=request.repo,
        target=request.target, outcome=status,
        details={**request.details, "pr_number": pr.number, "pr_url": pr.html_url},
    )  # fmt: skip
    services.notifier.notify(
        RollbackOpened(
            repo=request.repo, channel=request.channel, deployment=row.name, version=row.version,
            deployment_id=row.id, pr_number=pr.number, pr_url=pr.html_url, reason=request.reason,
            automerge=request.automerge, requested_by=request.requested_by,
        )
    )  # fmt: skip
    if row.pr_number is not None:
        comment = render(
            services, "rollback_comment.md.j2", deployment=row, reason=request.reason, pr=pr, status=status,
            repo=request.repo,
        )  # fmt: skip
        forge.create_comment(request.repo, row.pr_number, comment)
    return RollbackOutcome(status, message, pr.number, pr.html_url)


def _fail(services: Services, request: RollbackRequest, outcome: RollbackOutcome) -> RollbackOutcome:
    """The revert could not be made: the deployment is marked failed, and people are told why."""
    row = request.deployment
    DeploymentStore(services.database).set_status(row.id, plans.FAILED)
    services.audit(
        kind="rollback.request", actor=request.requested_by, summary=outcome.message, repo=row.repo,
        target=request.target, outcome="failed",
    )  # fmt: skip
    services.notifier.notify(
        RollbackFailed(
            repo=row.repo, channel=request.channel, deployment=row.name, version=row.version,
            reason=outcome.message,
        )
    )  # fmt: skip
    return outcome


__all__ = ["RollbackOutcome", "find_deployment", "request_rollback"]
