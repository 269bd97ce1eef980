"""The life of an update pull request after it is opened: automerge, and its final state.

``automerge: true`` merges a bot pull request once GitHub says its required checks passed. The
check runs when the pull request changes, and from a periodic sweep, because the events that
say "checks finished" (``check_suite``, ``status``) are not ones every installation sends.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.events.model import PullRequestChanged
from bot.jobs import HandlerContext
from bot.routing import Router
from bot.services import Services
from bot.storage.models import UpdateRequest
from bot.storage.types import utcnow
from bot.updates.plan import BRANCH_PREFIX
from bot.updates.triggers import automerge_decision, automerge_enabled

router = Router()

AUTOMERGE_HANDLER = "updates.automerge"
SWEEP_SECONDS = 30.0


def _is_bot_branch(ref: str) -> bool:
    return ref.startswith(f"{BRANCH_PREFIX}/")


@router.register("github", "pull_request", None, name="updates.pull_request")
def pull_request_changed(ctx: HandlerContext) -> None:
    event = ctx.domain
    if not isinstance(event, PullRequestChanged) or not _is_bot_branch(event.head_ref) or event.is_fork:
        return
    services = ctx.services
    if event.action == "closed":
        status = "merged" if event.merged else "closed"
        with services.database.transaction() as session:
            row = session.scalar(
                select(UpdateRequest).where(
                    UpdateRequest.repo == event.repo, UpdateRequest.branch == event.head_ref
                )
            )
            if row is not None and row.status in ("open", "dry_run"):
                row.status = status
                row.head_sha = event.head_sha
                row.updated_at = utcnow()
        return
    if event.action in ("opened", "reopened", "synchronize", "ready_for_review", "labeled"):
        services.queue.enqueue_once(
            AUTOMERGE_HANDLER,
            dedupe_key=f"{AUTOMERGE_HANDLER}:{event.repo}#{event.number}:{event.head_sha}:{event.action}",
            payload={"repo": event.repo, "number": event.number, "installation_id": event.installation_id},
        )


@router.register("internal", "updates", "automerge", name=AUTOMERGE_HANDLER)
def automerge(ctx: HandlerContext) -> None:
    services = ctx.services
    repo = str(ctx.payload["repo"])
    number = int(ctx.payload["number"])
    installation_id = ctx.payload.get("installation_id")
    with services.database.sessions() as session:
        row = session.scalar(
            select(UpdateRequest).where(UpdateRequest.repo == repo, UpdateRequest.pr_number == number)
        )
        deployment = row.deployment if row is not None else None
    if deployment is None or services.dry_run:
        return
    loaded = services.repo_config(repo, installation_id)
    if not automerge_enabled(loaded.config, deployment):
        return
    forge = services.forge_for_repo(repo, installation_id)
    pr = forge.get_pull_request(repo, number)
    decision, reason = automerge_decision(pr)
    ctx.log.info("updates.automerge_decision", repo=repo, number=number, decision=decision, reason=reason)
    if decision != "merge":
        return
    result = forge.merge_pull_request(repo, number, expected_head_sha=pr.head_sha)
    services.audit(
        kind="update.automerge",
        actor="gitops-bot",
        summary=(
            f"Merged #{number} ({deployment}): {reason}"
            if result.merged
            else f"Could not merge #{number} ({deployment}): {result.message or result.refusal}"
        ),
        repo=repo,
        target=f"#{number}",
        outcome="merged" if result.merged else "refused",
        details={"sha": result.sha, "refusal": str(result.refusal) if result.refusal else None},
    )


@router.periodic("updates.automerge_sweep", every_seconds=SWEEP_SECONDS)
def automerge_sweep(services: Services) -> None:
    """Enqueue one automerge check per open bot pull request (at most one per sweep period)."""
    bucket = int(time.time() // SWEEP_SECONDS)
    with services.database.sessions() as session:
        rows = session.execute(
            select(UpdateRequest.repo, UpdateRequest.pr_number).where(
                UpdateRequest.status == "open", UpdateRequest.pr_number.is_not(None)
            )
        ).all()
    for repo, number in rows:
        services.queue.enqueue_once(
            AUTOMERGE_HANDLER,
            dedupe_key=f"{AUTOMERGE_HANDLER}:{repo}#{number}:sweep:{bucket}",
            payload={"repo": repo, "number": number, "installation_id": None},
        )
