"""``/locks``: who holds which Terraform lock, since when, and "Unlock".

The page lists what ``/api/locks`` answers (same rows, same order). Unlocking is what
``/gitops unlock`` does, for one lock (:func:`bot.terraform.pull_requests.unlock_one`: the lock is
released and the plan it guarded discarded), after the same ``unlock`` permission; the pull
request is told who did it, and the audit log keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.adapters.forge.port import ForgeError
from bot.api import newest_locks
from bot.console.render import Console, console_of
from bot.console.security import Viewer, permission_refusal, require_action, require_viewer
from bot.console.terraform_view import UNLOCK_OUTCOMES, age_text, safe_href
from bot.pagination import BadRequest, encode_cursor, parse_id, parse_page
from bot.terraform.locks import LockInfo
from bot.terraform.pull_requests import unlock_one
from bot.terraform.runs import console_url

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.console")


@dataclass(frozen=True)
class Unlocked:
    """What an unlock came to: ``done`` names the page's flash; ``refusal`` why it was not allowed."""

    done: str
    refusal: str | None = None


def unlock(services: Services, viewer: Viewer, lock_id: int) -> Unlocked:
    """Release one lock as ``viewer`` (permission first), tell its pull request, audit it."""
    lock = services.locks.get(lock_id)
    if lock is None:
        return Unlocked("gone")
    where = f"{lock.key.describe()} held by #{lock.pr_number}"

    def record(summary: str, outcome: str, reason: str | None = None) -> None:
        details = {"pr_number": lock.pr_number, "via": viewer.via}
        if reason is not None:
            details["reason"] = reason
        target = f"lock:{lock_id}"
        services.audit(
            kind="console.unlock", actor=viewer.login, summary=summary, repo=lock.key.repo,
            target=target, outcome=outcome, details=details,
        )  # fmt: skip

    refusal = permission_refusal(services, viewer, lock.key.repo, "unlock")
    if refusal is not None:
        record(f"unlock {where} refused: {refusal}", "refused", refusal)
        return Unlocked("refused", refusal)
    if services.dry_run:
        record(f"unlock {where} (dry run: not performed)", "dry_run")
        return Unlocked("dry_run")
    released = unlock_one(services, lock_id)
    if released is None:  # someone (a merge, another click) released it in between
        return Unlocked("gone")
    record(f"unlocked {where} from the console; its plan was discarded", "done")
    return Unlocked("unlocked" if _tell_pull_request(services, viewer, released) else "untold")


def _tell_pull_request(services: Services, viewer: Viewer, lock: LockInfo) -> bool:
    """Comment on the lock's pull request who released it; False when GitHub refused."""
    body = services.templates.get_template("terraform/unlocked_from_console.md.j2").render(
        login=viewer.login, lock=lock, console_url=console_url(services.settings.public_url, "/locks")
    )
    try:
        services.forge_for_repo(lock.key.repo).create_comment(lock.key.repo, lock.pr_number, body)
    except ForgeError:
        log.exception("console.unlock_comment_failed", repo=lock.key.repo, number=lock.pr_number)
        return False
    return True


async def show(
    console: Console,
    request: Request,
    *,
    limit: str | None = None,
    cursor: str | None = None,
    flash: str | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    items: list[dict[str, Any]] = []
    more = None
    try:
        page = parse_page(limit, cursor)
    except BadRequest as bad:
        problem, status_code = str(bad), 400
    else:
        items, last = await run_in_threadpool(newest_locks, console.services.locks, page)
        more = f"/locks?limit={page.limit}&cursor={encode_cursor(last)}" if last is not None else None
        for item in items:
            item["age"] = age_text(item["age_seconds"])
            item["pr_href"] = safe_href(item["pull_request"]["url"])
    return await console.page(
        request,
        "locks.html.j2",
        title="Locks",
        locks=items,
        more=more,
        flash=flash,
        problem=problem,
        status_code=status_code,
    )


router = APIRouter()


@router.get("/locks", response_class=HTMLResponse)
async def locks_page(
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    limit: str | None = Query(None),
    cursor: str | None = Query(None),
    done: str | None = Query(None),
    console: Console = Depends(console_of),
) -> Response:
    flash = done if done in UNLOCK_OUTCOMES else None
    return await show(console, request, limit=limit, cursor=cursor, flash=flash)


@router.post("/locks/{lock_id}/unlock")
async def unlock_lock(
    request: Request,
    lock_id: str,
    viewer: Viewer = Depends(require_action),
    console: Console = Depends(console_of),
) -> Response:
    found = parse_id(lock_id)
    outcome = (
        Unlocked("gone")
        if found is None
        else await run_in_threadpool(unlock, console.services, viewer, found)
    )
    if outcome.refusal is not None:
        problem = f"You may not unlock this: {outcome.refusal}"
        return await show(console, request, problem=problem, status_code=403)
    return RedirectResponse(f"/locks?done={outcome.done}", status_code=303)
