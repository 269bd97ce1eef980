"""``/events`` and ``/events/{id}``: every webhook the bot stored, what it made of it and why.

A row opens (a ``<details>``, no script) to the jobs the event made (handler, attempts, error, the
reason a job found nothing to do) and the start of its stored payload; the event's own page has
the whole payload. Payloads are shown redacted (:mod:`bot.console.activity_view`). JSON twins:
``/api/events`` (the same filters, newest first, ``Link`` to the next page) and
``/api/events/{id}`` (the event with its redacted payload, its jobs and its audit rows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.api import action_json, answered, event_json
from bot.console import activity_read
from bot.console.activity_view import (
    EVENT_FILTER_NAMES,
    EVENT_SOURCES,
    EVENT_STATUSES,
    EventFilters,
    job_json,
    parse_event_filters,
    redacted_document,
    shown_document,
    shown_preview,
)
from bot.console.pages.runs import next_page
from bot.console.render import Console, console_of, query_filters
from bot.console.security import Viewer, require_viewer
from bot.console.terraform_view import age_text
from bot.pagination import BadRequest, Cursor, parse_id, parse_page
from bot.storage.types import utcnow

TITLE = "Events"


def event_view(record: activity_read.EventRecord, redact: Callable[[str], str]) -> dict[str, Any]:
    """An event as a list row shows it: its JSON, its jobs, and the start of its payload."""
    row = record.event
    payload, cut = shown_preview(row.payload, redact)
    domain = row.domain if isinstance(row.domain, dict) else {}
    return {
        **event_json(row),
        "repo": domain.get("repo"),
        "age": age_text((utcnow() - row.received_at).total_seconds()),
        "jobs": [job_json(job, redact) for job in record.jobs],
        "payload": payload,
        "payload_cut": cut,
    }


async def listing(
    console: Console, request: Request, filters: EventFilters, limit: str | None, cursor: str | None
) -> Response:
    services, redact = console.services, console.redact
    page = parse_page(limit, cursor)

    def read() -> tuple[list[dict[str, Any]], Cursor | None]:
        found, last = activity_read.newest_events(services.database, filters, page, with_jobs=True)
        return [event_view(record, redact) for record in found], last  # redaction is CPU: off the loop

    shown, last = await run_in_threadpool(read)
    more = next_page("/events", filters.given(), page.limit, last) if last is not None else None
    # The kinds on this page as the filter's suggestions: the events table is not scanned for them.
    kinds = sorted({event["kind"] for event in shown})
    return await console.page(
        request, "events.html.j2", title=TITLE, events=shown, filters=filters.given(),
        sources=EVENT_SOURCES, statuses=EVENT_STATUSES, kinds=kinds, more=more, problem=None,
    )  # fmt: skip


router = APIRouter()


@router.get("/events", response_class=HTMLResponse)
async def events_page(
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    limit: str | None = Query(None),
    cursor: str | None = Query(None),
    console: Console = Depends(console_of),
) -> Response:
    try:
        filters = parse_event_filters(request.query_params)
        return await listing(console, request, filters, limit, cursor)
    except BadRequest as bad:
        return await console.page(
            request, "events.html.j2", title=TITLE, events=[], more=None, problem=str(bad),
            filters=query_filters(request, EVENT_FILTER_NAMES), sources=EVENT_SOURCES,
            statuses=EVENT_STATUSES, kinds=[], status_code=400,
        )  # fmt: skip


@router.get("/events/{event_id}", response_class=HTMLResponse)
async def event_page(
    request: Request,
    event_id: str,
    viewer: Viewer = Depends(require_viewer),
    console: Console = Depends(console_of),
) -> Response:
    services, redact = console.services, console.redact
    found_id = parse_id(event_id)
    record = None if found_id is None else await run_in_threadpool(
        activity_read.event_record, services.database, found_id
    )  # fmt: skip
    if record is None:
        return await console.page(
            request, "event.html.j2", title="No such event", event=None, status_code=404
        )
    actions = await run_in_threadpool(activity_read.actions_of_event, services.database, record.event.id)
    view = event_view(record, redact) | {"payload": shown_document(record.event.payload, redact)}
    title = f"Event {record.event.id}: {view['source']} {view['kind']}"
    audit = [action_json(action) | {"details": shown_document(action.details, redact)} for action in actions]
    return await console.page(request, "event.html.j2", title=title, event=view, actions=audit)


@router.get("/api/events")
@answered()
async def api_events(
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    limit: str | None = Query(None),
    cursor: str | None = Query(None),
    console: Console = Depends(console_of),
) -> Response:
    filters, page = parse_event_filters(request.query_params), parse_page(limit, cursor)
    found, last = await run_in_threadpool(
        activity_read.newest_events, console.services.database, filters, page, with_jobs=False
    )
    headers = None
    if last is not None:
        headers = {"Link": f'<{next_page("/api/events", filters.given(), page.limit, last)}>; rel="next"'}
    return JSONResponse([event_json(record.event) for record in found], headers=headers)


@router.get("/api/events/{event_id}")
@answered()
async def api_event(
    event_id: str, viewer: Viewer = Depends(require_viewer), console: Console = Depends(console_of)
) -> Response:
    database, redact = console.services.database, console.redact
    found_id = parse_id(event_id)
    record = (
        None if found_id is None else await run_in_threadpool(activity_read.event_record, database, found_id)
    )
    if record is None:
        return JSONResponse({"detail": f"no event {event_id[:40]}"}, status_code=404)
    actions = await run_in_threadpool(activity_read.actions_of_event, database, record.event.id)
    return JSONResponse(
        event_json(record.event)
        | {
            "payload": redacted_document(record.event.payload, redact),
            "jobs": [job_json(job, redact) for job in record.jobs],
            "actions": [
                action_json(action) | {"details": redacted_document(action.details, redact)}
                for action in actions
            ],
        }
    )
