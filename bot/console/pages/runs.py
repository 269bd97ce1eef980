"""``/runs`` and ``/runs/{id}``: Terraform plans and applies, their output live while they run.

A run's page shows the lines stored so far and follows the rest over server-sent events
(``/runs/{id}/stream``: the stored lines after ``?after=`` or ``Last-Event-ID``, then new ones as
they are written, polled from a thread pool, each a ``line`` event; ``end`` when the run ended).
The lines are Terraform's output as the bot recorded it, redacted before it was stored
(:mod:`bot.terraform.runs`). JSON twins: ``/api/runs`` (newest first, ``?repo=&pr=``) and
``/api/runs/{id}`` (the run with its lines, ``?after=`` a line's seq, paginated by seq).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from bot.api import answered
from bot.console.render import Console, console_of, query_filters
from bot.console.security import Viewer, require_viewer
from bot.console.terraform_view import (
    KEEP_ALIVE,
    age_text,
    line_json,
    parse_after,
    run_duration,
    run_json,
    safe_href,
    sse_frame,
)
from bot.pagination import MAX_LIMIT, BadRequest, Cursor, encode_cursor, parse_id, parse_limit, parse_page
from bot.storage.types import utcnow
from bot.terraform.runs import MAX_LINES
from bot.terraform.runs_store import RunInfo, TerraformRuns

STREAM_POLL_SECONDS = 0.3
STREAM_BATCH = 500
KEEP_ALIVE_SECONDS = 15.0
FILTERS = ("repo", "pr")


def list_filters(request: Request) -> dict[str, Any]:
    """``?repo=`` and ``?pr=`` as the store takes them (a bad ``pr`` is a 400)."""
    given = query_filters(request, FILTERS)
    pr = given.get("pr")
    if pr is not None and parse_id(pr) is None:
        raise BadRequest(f"pr must be a pull request number, got {pr[:40]!r}")
    return {"repo": given.get("repo"), "pr_number": parse_id(pr) if pr else None}


def next_page(path: str, filters: Mapping[str, str], limit: int, last: Cursor) -> str:
    return f"{path}?" + urlencode({**filters, "limit": limit, "cursor": encode_cursor(last)})


def run_view(run: RunInfo) -> dict[str, Any]:
    """A run as the pages show it: its JSON, and what is worked out for the eye."""
    now = utcnow()
    return {
        **run_json(run),
        "label": run.label,
        "running": run.running,
        "pr_href": safe_href(run.pr_url),
        "pr_runs": "/runs?" + urlencode({"repo": run.repo, "pr": run.pr_number}),
        "age": age_text((now - run.started_at).total_seconds()),
        "duration": run_duration(run, now),
    }


async def follow(
    request: Request, store: TerraformRuns, run_id: int, after: int, *, poll: float = STREAM_POLL_SECONDS
) -> AsyncIterator[str]:
    """The run's lines after ``after`` as ``line`` events, new ones as they are stored, then ``end``
    (its status); stops when the client goes away."""
    quiet_since = time.monotonic()
    while True:
        run, lines = await run_in_threadpool(store.since, run_id, after=after, limit=STREAM_BATCH)
        if run is None:
            yield sse_frame("end", "gone")
            return
        for line in lines:
            yield sse_frame("line", line.line, line.seq)
            after = line.seq
        if len(lines) == STREAM_BATCH:
            continue
        if not run.running:  # read before its lines: a run that had ended had them all written
            yield sse_frame("end", run.status)
            return
        if await request.is_disconnected():
            return
        if lines:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > KEEP_ALIVE_SECONDS:
            yield KEEP_ALIVE  # a comment, so that proxies keep a quiet stream open
            quiet_since = time.monotonic()
        await asyncio.sleep(poll)


router = APIRouter()


@router.get("/runs", response_class=HTMLResponse)
async def runs_page(
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    limit: str | None = Query(None),
    cursor: str | None = Query(None),
    console: Console = Depends(console_of),
) -> Response:
    shown = query_filters(request, FILTERS)
    try:
        filters, page = list_filters(request), parse_page(limit, cursor)
    except BadRequest as bad:
        return await console.page(
            request, "runs.html.j2", title="Terraform runs", runs=[], filters=shown, more=None,
            problem=str(bad), status_code=400,
        )  # fmt: skip
    before = (page.after.at, page.after.id) if page.after else None
    found = await run_in_threadpool(console.runs.newest, page.limit + 1, before=before, **filters)
    more = None
    if len(found) > page.limit:
        found = found[: page.limit]
        more = next_page("/runs", shown, page.limit, Cursor(found[-1].started_at, found[-1].id))
    runs = [run_view(run) for run in found]
    return await console.page(
        request, "runs.html.j2", title="Terraform runs", runs=runs, filters=shown, more=more, problem=None
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(
    request: Request,
    run_id: str,
    viewer: Viewer = Depends(require_viewer),
    console: Console = Depends(console_of),
) -> Response:
    found_id = parse_id(run_id)
    run = None if found_id is None else await run_in_threadpool(console.runs.get, found_id)
    if run is None:
        return await console.page(request, "run.html.j2", title="No such run", run=None, status_code=404)
    lines = await run_in_threadpool(console.runs.lines, run.id, after=0, limit=MAX_LINES + 1)
    last = lines[-1].seq if lines else 0
    title = f"{run.command} {run.label} · {run.repo}#{run.pr_number}"
    return await console.page(
        request, "run.html.j2", title=title, run=run_view(run), lines=lines, last_seq=last
    )


@router.get("/runs/{run_id}/stream")
async def run_stream(
    request: Request,
    run_id: str,
    after: str | None = Query(None),
    viewer: Viewer = Depends(require_viewer),
    console: Console = Depends(console_of),
) -> Response:
    found_id = parse_id(run_id)
    run = None if found_id is None else await run_in_threadpool(console.runs.get, found_id)
    if run is None:
        return JSONResponse({"detail": f"no run {run_id[:40]}"}, status_code=404)
    # A browser that reconnects says where it was: Last-Event-ID is the last line it got.
    try:
        start = parse_after(request.headers.get("last-event-id") or after)
    except BadRequest as bad:
        return JSONResponse({"detail": str(bad)}, status_code=400)
    return StreamingResponse(
        follow(request, console.runs, run.id, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/api/runs")
@answered()
async def api_runs(
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    limit: str | None = Query(None),
    cursor: str | None = Query(None),
    console: Console = Depends(console_of),
) -> Response:
    filters, page = list_filters(request), parse_page(limit, cursor)
    before = (page.after.at, page.after.id) if page.after else None
    found = await run_in_threadpool(console.runs.newest, page.limit + 1, before=before, **filters)
    headers = None
    if len(found) > page.limit:
        found = found[: page.limit]
        last = Cursor(found[-1].started_at, found[-1].id)
        link = next_page("/api/runs", query_filters(request, FILTERS), page.limit, last)
        headers = {"Link": f'<{link}>; rel="next"'}
    return JSONResponse([run_json(run) for run in found], headers=headers)


@router.get("/api/runs/{run_id}")
@answered()
async def api_run(
    run_id: str,
    viewer: Viewer = Depends(require_viewer),
    after: str | None = Query(None, description="the seq of the last line already read"),
    limit: str | None = Query(None, description=f"lines per page, 1 to {MAX_LIMIT} (default 50)"),
    console: Console = Depends(console_of),
) -> Response:
    size, start = parse_limit(limit), parse_after(after)
    found_id = parse_id(run_id)
    run = None if found_id is None else await run_in_threadpool(console.runs.get, found_id)
    if run is None:
        return JSONResponse({"detail": f"no run {run_id[:40]}"}, status_code=404)
    lines = await run_in_threadpool(console.runs.lines, run.id, after=start, limit=size + 1)
    headers = None
    if len(lines) > size:
        lines = lines[:size]
        query = urlencode({"after": lines[-1].seq, "limit": size})
        headers = {"Link": f'</api/runs/{run.id}?{query}>; rel="next"'}
    return JSONResponse({**run_json(run), "lines": [line_json(x) for x in lines]}, headers=headers)
