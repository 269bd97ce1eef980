"""``/``: every deployment, a row per environment, grouped by promotion chain: what runs, what ran
before, the state (analysing with its progress, passed, rolled back, quarantined …), the bot's open
pull requests, and the last change with who or what made it. ``/api/overview`` is its JSON twin:
the same groups, newest first, paged by group with ``?limit=`` and ``?cursor=``.

What is shown is decided in :mod:`bot.console.overview_view`; the reads are in
:mod:`bot.console.deployments_read`. A database that cannot be read gives the page a 503 with the
reason, as ``/readyz`` says it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.api import CURSOR_QUERY, LIMIT_QUERY, answered
from bot.console.deployments_read import load_overview
from bot.console.overview_view import Row, group_json, progress_text
from bot.console.render import Console, console_of
from bot.console.security import Viewer, require_viewer
from bot.console.terraform_view import age_text, safe_href
from bot.pagination import BadRequest, encode_cursor, next_link, parse_page
from bot.storage.availability import diagnose
from bot.storage.types import utcnow


async def unavailable(console: Console, request: Request, error: SQLAlchemyError) -> Response:
    """The page a database that cannot be read gives: its status (503) and /readyz's reason."""
    failure = await run_in_threadpool(diagnose, console.services.database, error)
    return await console.page(
        request,
        "unavailable.html.j2",
        title="The database cannot be read",
        reason=failure.reason,
        status_code=failure.status_code,
    )


router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def overview(
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    limit: str | None = Query(None),
    cursor: str | None = Query(None),
    console: Console = Depends(console_of),
) -> Response:
    try:
        page = parse_page(limit, cursor)
    except BadRequest as bad:
        return await console.page(
            request, "overview.html.j2", title="Overview", groups=[], problems=[], more=None,
            problem=str(bad), total=0, status_code=400,
        )  # fmt: skip
    try:
        shown = await run_in_threadpool(load_overview, console.services, page)
    except SQLAlchemyError as error:
        return await unavailable(console, request, error)
    now = utcnow()
    more = f"/?limit={page.limit}&cursor={encode_cursor(shown.last)}" if shown.last else None
    groups = [(group, [(row, _looks(row, now)) for row in rows]) for group, rows in shown.groups]
    return await console.page(
        request, "overview.html.j2", title="Overview", groups=groups, problems=shown.problems,
        more=more, problem=None, total=shown.total,
    )  # fmt: skip


@router.get("/api/overview")
@answered()
async def api_overview(
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    limit: str | None = LIMIT_QUERY,
    cursor: str | None = CURSOR_QUERY,
    console: Console = Depends(console_of),
) -> Response:
    page = parse_page(limit, cursor)
    shown = await run_in_threadpool(load_overview, console.services, page)
    headers = {"Link": next_link("/api/overview", page.limit, shown.last)} if shown.last else None
    return JSONResponse([group_json(group, rows) for group, rows in shown.groups], headers=headers)


def _looks(row: Row, now: datetime) -> dict[str, Any]:
    """What the template needs beyond the row: ages, and links that are safe in ``href``."""
    facts = row.facts
    change = facts.change
    newest = facts.newest
    return {
        "change_age": age_text((now - change.at).total_seconds()) if change else None,
        "pr_href": safe_href(newest.pr_url) if newest else None,
        "pulls": [(pull, safe_href(pull.url)) for pull in facts.pulls],
        "progress": progress_text(facts.progress) if facts.progress else None,
    }
