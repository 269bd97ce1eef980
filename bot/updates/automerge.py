"""The life of an update pull request after it is opened: automerge, and its final state.

``automerge: true`` merges a bot pull request once the forge says its required checks passed. The
check runs when the pull request changes, when a GitLab merge request's pipeline finishes, and from
a periodic sweep, because the events that say "checks finished" on GitHub (``check_suite``,
``status``) are not ones every installation sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from bot import reasons
from bot.adapters.forge.names import pull_reference
from bot.adapters.forge.port import MergeResult
from bot.events.model import PipelineFinished, PullRequestChanged
from bot.reasons import Ignored
from bot.updates.branch_names import BRANCH_PREFIX
from bot.updates.store import UpdateStore
from bot.updates.triggers import automerge_decision, automerge_enabled

if TYPE_CHECKING:
    from bot.services import Services

AUTOMERGE_HANDLER = "updates.automerge"
SWEEP_SECONDS = 30.0

# Changes after which the pull request may have become mergeable.
CHECKED_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review", "labeled"})


def is_bot_branch(ref: str) -> bool:
    return ref.startswith(f"{BRANCH_PREFIX}/")


def pull_request_changed(services: Services, event: PullRequestChanged) -> Ignored | None:
    """A bot pull request changed: a closed one settles its row, others get an automerge check.
    Returns why nothing follows, for any other pull request or change."""
    if not is_bot_branch(event.head_ref) or event.is_fork:
        return reasons.not_a_bot_pull_request(event.repo, event.number)
    if event.action == "closed":
        UpdateStore(services.database).mark_closed(
            event.repo, event.head_ref, merged=event.merged, head_sha=event.head_sha
        )
        return None
    if event.action not in CHECKED_ACTIONS:
        return reasons.pull_request_action_not_acted_on(event.repo, event.number, event.action)
    services.queue.enqueue_once(
        AUTOMERGE_HANDLER,
        dedupe_key=f"{AUTOMERGE_HANDLER}:{event.repo}#{event.number}:{event.head_sha}:{event.action}",
        payload={"repo": event.repo, "number": event.number, "installation_id": event.installation_id},
    )
    return None


def pipeline_finished(services: Services, event: PipelineFinished) -> Ignored | None:
    """GitLab: a finished pipeline of a bot merge request asks for its automerge check (GitHub's
    answer to the same moment is the sweep and the pull request's own events)."""
    number = event.merge_request
    if number is None or UpdateStore(services.database).deployment_of(event.repo, number) is None:
        return reasons.not_a_bot_pull_request(event.repo, number or 0)
    services.queue.enqueue_once(
        AUTOMERGE_HANDLER,
        dedupe_key=f"{AUTOMERGE_HANDLER}:{event.repo}#{number}:{event.sha}:pipeline:{event.status}",
        payload={"repo": event.repo, "number": number, "installation_id": None},
    )
    return None


def automerge(
    services: Services,
    *,
    repo: str,
    number: int,
    installation_id: int | None,
    logger: structlog.stdlib.BoundLogger,
) -> None:
    """Merge update pull request ``number`` if its deployment asks for automerge and GitHub allows it."""
    deployment = UpdateStore(services.database).deployment_of(repo, number)
    if deployment is None or services.dry_run:
        return
    loaded = services.repo_config(repo, installation_id)
    if not automerge_enabled(loaded.config, deployment):
        return
    forge = services.forge_for_repo(repo, installation_id)
    pr = forge.get_pull_request(repo, number)
    decision, reason = automerge_decision(pr)
    logger.info("updates.automerge_decision", repo=repo, number=number, decision=decision, reason=reason)
    if decision == "wait":
        _merge_when_checks_pass(services, forge, repo, number, deployment, pr.head_sha)
    if decision != "merge":
        return
    result = forge.merge_pull_request(repo, number, expected_head_sha=pr.head_sha)
    services.audit(
        kind="update.automerge",
        actor="gitops-bot",
        summary=automerge_summary(repo, number, deployment, reason, result),
        repo=repo,
        target=f"#{number}",
        outcome="merged" if result.merged else "refused",
        details={
            "sha": result.sha,
            "refusal": str(result.refusal) if result.refusal else None,
            "reason": reason if result.merged else (result.message or str(result.refusal)),
        },
    )


def _merge_when_checks_pass(
    services: Services, forge: object, repo: str, number: int, deployment: str, head_sha: str
) -> None:
    """Where the forge merges by itself once the pipeline passes (GitLab's merge when pipeline
    succeeds), ask it to: the merge then happens even while the bot is down. Audited once."""
    schedule = getattr(forge, "merge_when_checks_pass", None)
    if schedule is None or not schedule(repo, number, expected_head_sha=head_sha):
        return
    services.audit(
        kind="update.automerge",
        actor="gitops-bot",
        summary=f"{pull_reference(repo, number)} ({deployment}) merges when its pipeline succeeds",
        repo=repo,
        target=f"#{number}",
        outcome="scheduled",
        details={"sha": head_sha},
    )


def automerge_summary(repo: str, number: int, deployment: str, reason: str, result: MergeResult) -> str:
    pull = pull_reference(repo, number)
    if result.merged:
        return f"Merged {pull} ({deployment}): {reason}"
    return f"Could not merge {pull} ({deployment}): {result.message or result.refusal}"


def sweep(services: Services, *, now: float) -> int:
    """Enqueue one automerge check per open bot pull request the bot may merge (at most one per
    sweep period); none at all while no such pull request is open. Returns how many were new."""
    bucket = int(now // SWEEP_SECONDS)
    offered = 0
    for repo, number in UpdateStore(services.database).open_pull_requests(automerge_only=True):
        offered += services.queue.enqueue_once(
            AUTOMERGE_HANDLER,
            dedupe_key=f"{AUTOMERGE_HANDLER}:{repo}#{number}:sweep:{bucket}",
            payload={"repo": repo, "number": number, "installation_id": None},
        )
    return offered
