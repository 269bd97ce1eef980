"""``/updates``: every deployment's version updates, like a Dependency Dashboard: what runs, the
bot's open pull requests, what it refused and why, what became of earlier ones; and "Propose".

What is shown is filed in :mod:`bot.console.updates_view`, read in :mod:`bot.console.updates_read`.
**Propose** does what ``/gitops deploy`` does in Slack, for the version typed: an explicit update
(it may go outside the tag policy or backwards, and lifts a quarantine when asked), after the same
``deploy`` permission, audited as ``console.propose``. JSON twin: ``/api/updates`` (deployments
with activity first, paged with ``?limit=`` and ``?cursor=``; ``?repo=`` and ``?deployment=``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.adapters.forge.port import ForgeError
from bot.api import answered
from bot.console.pages.runs import next_page
from bot.console.render import Console, console_of, query_filters
from bot.console.security import Viewer, permission_refusal, require_action, require_viewer
from bot.console.terraform_view import age_text, safe_href
from bot.console.updates_read import UpdatesPage, load_updates
from bot.console.updates_view import entry_json
from bot.pagination import BadRequest, parse_page
from bot.storage.types import utcnow
from bot.updates.propose import find_deployment

if TYPE_CHECKING:
    from bot.services import Services

TITLE = "Updates"
FILTERS = ("repo", "deployment")
PROPOSE_OUTCOMES = ("opened", "updated", "unchanged", "superseded", "refused", "dry_run", "failed")
_VERSION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")


@dataclass(frozen=True)
class Proposal:
    """What "Propose" came to: ``done`` for the flash, ``problem`` (with its status) when refused."""

    done: str | None = None
    problem: str | None = None
    status_code: int = 200


def propose_now(
    services: Services, viewer: Viewer, repo: str, deployment: str, version: str, lift: bool
) -> Proposal:
    """Check the ask, then the viewer's ``deploy`` permission, then propose; audited either way."""
    if not _VERSION.fullmatch(version):
        return Proposal(
            problem=f"{version[:40]!r} is not a version (letters, digits, . _ + -)", status_code=400
        )
    if repo not in services.settings.gitops_repos:
        return Proposal(problem=f"{repo[:100]!r} is not a configured GitOps repository", status_code=400)
    config = services.repo_config(repo).config
    if config is None or find_deployment(config, deployment) is None:
        return Proposal(
            problem=f"{repo} configures no deployment named {deployment[:100]!r}", status_code=400
        )

    def record(summary: str, outcome: str, **details: Any) -> None:
        services.audit(
            kind="console.propose", actor=viewer.login, summary=summary, repo=repo,
            target=f"{deployment}@{version}", outcome=outcome, details={"via": viewer.via, **details},
        )  # fmt: skip

    refusal = permission_refusal(services, viewer, repo, "deploy")
    if refusal is not None:
        record(f"propose {version} for {deployment} refused: {refusal}", "refused", reason=refusal)
        return Proposal(problem=f"You may not propose versions here: {refusal}", status_code=403)
    from bot.updates.propose import propose_update
    from bot.updates.source import manual_source

    try:
        outcome = propose_update(
            services, repo=repo, deployment=deployment, version=version,
            source=manual_source(f"proposed from the console by {viewer.login}", viewer.login),
            requested_by=viewer.login, explicit=True, lift_quarantine=lift,
        )  # fmt: skip
    except ForgeError as error:
        record(f"propose {version} for {deployment} failed: {error}", "failed", reason=str(error))
        return Proposal(done="failed")
    record(outcome.message, outcome.status, pr_number=outcome.pr_number, code=outcome.code)
    return Proposal(done=outcome.status)


def _view(found: UpdatesPage) -> list[dict[str, Any]]:
    now = utcnow()
    shown = []
    for entry in found.entries:
        item = entry_json(entry, found.versions)
        for row in [*item["proposed"], *item["merged"], *item["superseded"], *item["closed"]]:
            pull = row["pull_request"]
            row["href"] = safe_href(pull["url"]) if pull else None
        for row in [*item["proposed"], *item["refused"], *item["merged"]]:
            row["age"] = age_text((now - datetime.fromisoformat(row["at"])).total_seconds())
        shown.append(item)
    return shown


async def show(
    console: Console, request: Request, *, flash: dict[str, str] | None = None, problem: str | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    filters = query_filters(request, FILTERS)
    try:
        page = parse_page(request.query_params.get("limit"), request.query_params.get("cursor"))
    except BadRequest as bad:
        problem, status_code, found = str(bad), 400, None
    else:
        found = await run_in_threadpool(
            load_updates, console.services, page, filters.get("repo"), filters.get("deployment")
        )
    more = None
    if found is not None and found.last is not None:
        more = next_page("/updates", filters, page.limit, found.last)
    return await console.page(
        request, "updates.html.j2", title=TITLE, deployments=_view(found) if found else [],
        problems=found.problems if found else [], filters=filters, more=more, flash=flash,
        problem=problem, status_code=status_code,
    )  # fmt: skip


router = APIRouter()


@router.get("/updates", response_class=HTMLResponse)
async def updates_page(
    request: Request, viewer: Viewer = Depends(require_viewer), console: Console = Depends(console_of)
) -> Response:
    done = request.query_params.get("done")
    flash = None
    if done in PROPOSE_OUTCOMES:
        flash = {
            "done": done,
            "deployment": request.query_params.get("for", "")[:100],
            "version": request.query_params.get("version", "")[:128],
        }
    return await show(console, request, flash=flash)


@router.post("/updates/propose")
async def propose(
    request: Request,
    viewer: Viewer = Depends(require_action),
    repo: str = Form(""),
    deployment: str = Form(""),
    version: str = Form(""),
    lift_quarantine: str = Form(""),
    console: Console = Depends(console_of),
) -> Response:
    version = version.strip()
    proposal = await run_in_threadpool(
        propose_now, console.services, viewer, repo, deployment, version, lift_quarantine == "yes"
    )
    if proposal.problem is not None:
        return await show(console, request, problem=proposal.problem, status_code=proposal.status_code)
    query = urlencode(
        {"done": proposal.done, "for": deployment, "version": version, "deployment": deployment}
    )
    return RedirectResponse(f"/updates?{query}#updates-{deployment}", status_code=303)


@router.get("/api/updates")
@answered()
async def api_updates(
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    limit: str | None = Query(None),
    cursor: str | None = Query(None),
    console: Console = Depends(console_of),
) -> Response:
    filters, page = query_filters(request, FILTERS), parse_page(limit, cursor)
    found = await run_in_threadpool(
        load_updates, console.services, page, filters.get("repo"), filters.get("deployment")
    )
    headers = None
    if found.last is not None:
        headers = {"Link": f'<{next_page("/api/updates", filters, page.limit, found.last)}>; rel="next"'}
    return JSONResponse([entry_json(entry, found.versions) for entry in found.entries], headers=headers)
