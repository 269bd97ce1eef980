"""``/actions``: the audit log, everything the bot did or refused and who asked, with its reason.

Filters: kind, outcome, actor, repository, deployment. A row opens to its details (redacted) and
links to the event that led to it. JSON twin: ``/api/actions`` (the same filters, newest first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.api import action_json, answered
from bot.console import activity_read
from bot.console.activity_view import (
    ACTION_FILTER_NAMES,
    ACTION_OUTCOMES,
    ActionFilters,
    parse_action_filters,
    redacted_document,
    shown_document,
)
from bot.console.pages.runs import next_page
from bot.console.render import Console, console_of, query_filters
from bot.console.security import Viewer, require_viewer
from bot.console.terraform_view import age_text
from bot.pagination import BadRequest, parse_page
from bot.storage.models import Action
from bot.storage.types import utcnow

TITLE = "Audit"


def action_view(action: Action, redact: Callable[[str], str]) -> dict[str, Any]:
    details = action.details if isinstance(action.details, dict) else {}
    reason = details.get("reason")
    return {
        **action_json(action),
        "details": shown_document(action.details, redact),
        "reason": redact(str(reason)) if reason else None,
        "age": age_text((utcnow() - action.at).total_seconds()),
    }


async def listing(
    console: Console, request: Request, filters: ActionFilters, limit: str | None, cursor: str | None
) -> Response:
    database, redact = console.services.database, console.redact
    page = parse_page(limit, cursor)
    found, last = await run_in_threadpool(activity_read.newest_actions, database, filters, page)
    kinds = await run_in_threadpool(activity_read.audit_kinds, database)
    more = next_page("/actions", filters.given(), page.limit, last) if last is not None else None
    return await console.page(
        request, "actions.html.j2", title=TITLE, actions=[action_view(a, redact) for a in found],
        filters=filters.given(), outcomes=ACTION_OUTCOMES, kinds=kinds, more=more, problem=None,
    )  # fmt: skip


router = APIRouter()


@router.get("/actions", response_class=HTMLResponse)
async def actions_page(
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    limit: str | None = Query(None),
    cursor: str | None = Query(None),
    console: Console = Depends(console_of),
) -> Response:
    try:
        return await listing(console, request, parse_action_filters(request.query_params), limit, cursor)
    except BadRequest as bad:
        return await console.page(
            request, "actions.html.j2", title=TITLE, actions=[], more=None, problem=str(bad),
            filters=query_filters(request, ACTION_FILTER_NAMES), outcomes=ACTION_OUTCOMES, kinds=[],
            status_code=400,
        )  # fmt: skip


@router.get("/api/actions")
@answered()
async def api_actions(
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    limit: str | None = Query(None),
    cursor: str | None = Query(None),
    console: Console = Depends(console_of),
) -> Response:
    database, redact = console.services.database, console.redact
    filters, page = parse_action_filters(request.query_params), parse_page(limit, cursor)
    found, last = await run_in_threadpool(activity_read.newest_actions, database, filters, page)
    headers = None
    if last is not None:
        headers = {"Link": f'<{next_page("/api/actions", filters.given(), page.limit, last)}>; rel="next"'}
    items = [action_json(action) | {"details": redacted_document(action.details, redact)} for action in found]
    return JSONResponse(items, headers=headers)
