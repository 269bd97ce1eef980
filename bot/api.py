"""Health, metrics, the read-only JSON API and the dashboard.

No /api route or the dashboard answers a bare 500: a bad query parameter is a 400 with
the reason, an id that cannot exist is a 404, and a database that is away (unreachable,
wrong URL, not migrated) is a 503 in /readyz's words.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.pagination import MAX_LIMIT, BadRequest, Cursor, PageRequest, next_link, parse_id, parse_page
from bot.services import Services
from bot.storage.availability import diagnose
from bot.storage.models import Action, Analysis, AnalysisInterval, Deployment, Event
from bot.storage.types import utcnow
from bot.terraform.locks import LockInfo

LIMIT_QUERY = Query(None, description=f"items per page, 1 to {MAX_LIMIT} (default 50)")
CURSOR_QUERY = Query(None, description="the next page, as named by the previous page's Link header")


def event_json(row: Event) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": row.source,
        "kind": f"{row.event}.{row.action}" if row.action else row.event,
        "event": row.event,
        "action": row.action,
        "delivery_id": row.delivery_id,
        "status": row.status,
        "reason": row.ignored_reason,
        "error": row.error,
        "received_at": row.received_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


def deployment_json(row: Deployment) -> dict[str, Any]:
    return {
        "id": row.id,
        "repo": row.repo,
        "name": row.name,
        "version": row.version,
        "previous_version": row.previous_version,
        "status": row.status,
        "merged_at": row.merged_at.isoformat(),
        "merge_commit_sha": row.merge_commit_sha,
        "pr_number": row.pr_number,
        "pr_url": row.pr_url,
        "rollback_pr_number": row.rollback_pr_number,
        "rollback_pr_url": row.rollback_pr_url,
        "rolled_back_at": row.rolled_back_at.isoformat() if row.rolled_back_at else None,
    }


def analysis_json(row: Analysis) -> dict[str, Any]:
    return {
        "id": row.id,
        "deployment_id": row.deployment_id,
        "status": row.status,
        "reason": row.reason,
        "started_at": row.started_at.isoformat(),
        "next_run_at": row.next_run_at.isoformat() if row.next_run_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "config": row.config,
    }


def action_json(row: Action) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "kind": row.kind,
        "actor": row.actor,
        "repo": row.repo,
        "target": row.target,
        "summary": row.summary,
        "outcome": row.outcome,
        "dry_run": row.dry_run,
        "details": row.details,
        "event_id": row.event_id,
        "job_id": row.job_id,
    }


def lock_json(lock: LockInfo, now: datetime) -> dict[str, Any]:
    return {
        "id": lock.id,
        "repo": lock.key.repo,
        "dir": lock.key.dir,
        "workspace": lock.key.workspace,
        "project": lock.key.project or None,
        "pull_request": {"number": lock.pr_number, "url": lock.pr_url},
        "holder": lock.owner,
        "taken_at": lock.created_at.isoformat(),
        "age_seconds": max(0, int((now - lock.created_at).total_seconds())),
    }


def page_response(
    request: Request, items: list[dict[str, Any]], page: PageRequest, last: Cursor | None
) -> Response:
    """The page as a JSON list; ``last`` (the last item's key) is set when more follow."""
    headers = {"Link": next_link(request.url.path, page.limit, last)} if last is not None else None
    return JSONResponse(items, headers=headers)


def build_api_router(services: Services) -> APIRouter:
    router = APIRouter()
    database = services.database

    def newest(
        model: Any, order_column: Any, to_json: Callable[[Any], dict[str, Any]], page: PageRequest
    ) -> tuple[list[dict[str, Any]], Cursor | None]:
        """One page, newest first, and the key of its last row when more rows follow."""
        statement = select(model).order_by(order_column.desc(), model.id.desc()).limit(page.limit + 1)
        if page.after is not None:
            at, last_id = page.after.at, page.after.id
            statement = statement.where(or_(order_column < at, and_(order_column == at, model.id < last_id)))
        with database.sessions() as session:
            rows = list(session.execute(statement).scalars())
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        last = Cursor(getattr(rows[-1], order_column.key), rows[-1].id) if more else None
        return [to_json(row) for row in rows], last

    def newest_locks(page: PageRequest) -> tuple[list[dict[str, Any]], Cursor | None]:
        before = (page.after.at, page.after.id) if page.after is not None else None
        locks = services.locks.newest(page.limit + 1, before=before)
        more = len(locks) > page.limit
        locks = locks[: page.limit]
        now = utcnow()
        last = Cursor(locks[-1].created_at, locks[-1].id) if more else None
        return [lock_json(lock, now) for lock in locks], last

    def answered(
        endpoint: Callable[..., Awaitable[Response]],
    ) -> Callable[..., Awaitable[Response]]:
        """400 for a bad parameter, 503 (or 400) with the reason for a failed database call."""

        @functools.wraps(endpoint)
        async def wrapper(*args: Any, **kwargs: Any) -> Response:
            try:
                return await endpoint(*args, **kwargs)
            except BadRequest as exc:
                return JSONResponse({"detail": str(exc)}, status_code=400)
            except SQLAlchemyError as exc:
                failure = await run_in_threadpool(diagnose, database, exc)
                if failure.status_code != 503:
                    return JSONResponse({"detail": failure.reason}, failure.status_code)
                return JSONResponse({"status": "unavailable", "error": failure.reason}, 503)

        return wrapper

    async def listing(
        request: Request,
        model: Any,
        order_column: Any,
        to_json: Callable[[Any], dict[str, Any]],
        limit: str | None,
        cursor: str | None,
    ) -> Response:
        page = parse_page(limit, cursor)
        items, last = await run_in_threadpool(newest, model, order_column, to_json, page)
        return page_response(request, items, page, last)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> Response:
        # How pull requests' Terraform runs is a detail, not a readiness condition: without a
        # sandbox only terraform commands are refused; everything else is served.
        details = {"terraform": (await run_in_threadpool(services.terraform_status)).as_json()}
        try:
            state = await run_in_threadpool(database.schema_state)
        except Exception as exc:
            body = {"status": "unavailable", "error": f"database unreachable: {exc}", "details": details}
            return JSONResponse(body, 503)
        if not state.up_to_date:
            return JSONResponse(
                {
                    "status": "unavailable",
                    "error": "database schema is behind: run `gitops-bot migrate`",
                    "current": state.current,
                    "head": state.head,
                    "details": details,
                },
                503,
            )
        return JSONResponse({"status": "ready", "schema": state.current, "details": details})

    @router.get("/metrics")
    async def metrics() -> Response:
        body = await run_in_threadpool(generate_latest, services.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @router.get("/api/events")
    @answered
    async def api_events(
        request: Request, limit: str | None = LIMIT_QUERY, cursor: str | None = CURSOR_QUERY
    ) -> Response:
        return await listing(request, Event, Event.received_at, event_json, limit, cursor)

    @router.get("/api/actions")
    @answered
    async def api_actions(
        request: Request, limit: str | None = LIMIT_QUERY, cursor: str | None = CURSOR_QUERY
    ) -> Response:
        return await listing(request, Action, Action.at, action_json, limit, cursor)

    @router.get("/api/deployments")
    @answered
    async def api_deployments(
        request: Request, limit: str | None = LIMIT_QUERY, cursor: str | None = CURSOR_QUERY
    ) -> Response:
        return await listing(request, Deployment, Deployment.merged_at, deployment_json, limit, cursor)

    @router.get("/api/analyses")
    @answered
    async def api_analyses(
        request: Request, limit: str | None = LIMIT_QUERY, cursor: str | None = CURSOR_QUERY
    ) -> Response:
        return await listing(request, Analysis, Analysis.started_at, analysis_json, limit, cursor)

    @router.get("/api/locks")
    @answered
    async def api_locks(
        request: Request, limit: str | None = LIMIT_QUERY, cursor: str | None = CURSOR_QUERY
    ) -> Response:
        page = parse_page(limit, cursor)
        items, last = await run_in_threadpool(newest_locks, page)
        return page_response(request, items, page, last)

    @router.get("/api/analyses/{analysis_id}")
    @answered
    async def api_analysis(analysis_id: str) -> Response:
        found_id = parse_id(analysis_id)
        found = None if found_id is None else await run_in_threadpool(load_analysis, found_id)
        if found is None:
            return JSONResponse({"detail": f"no analysis {analysis_id[:40]}"}, status_code=404)
        return JSONResponse(found)

    def load_analysis(analysis_id: int) -> dict[str, Any] | None:
        with database.sessions() as session:
            row = session.get(Analysis, analysis_id)
            if row is None:
                return None
            intervals = session.scalars(
                select(AnalysisInterval)
                .where(AnalysisInterval.analysis_id == analysis_id)
                .order_by(AnalysisInterval.index)
            )
            return {
                **analysis_json(row),
                "intervals": [
                    {
                        "index": item.index,
                        "at": item.at.isoformat(),
                        "verdict": item.verdict,
                        "request_count": item.request_count,
                        "evidence": item.measurements,
                    }
                    for item in intervals
                ],
            }

    @router.get("/", response_class=HTMLResponse)
    async def dashboard() -> Response:
        def load() -> dict[str, Any]:
            recent = PageRequest(limit=25)
            return {
                "events": newest(Event, Event.received_at, event_json, recent)[0],
                "actions": newest(Action, Action.at, action_json, recent)[0],
                "queue": services.queue.counts(),
            }

        try:
            shown = await run_in_threadpool(load)
        except SQLAlchemyError as exc:
            failure = await run_in_threadpool(diagnose, database, exc)
            page = services.templates.get_template("dashboard/unavailable.html").render(reason=failure.reason)
            return HTMLResponse(page, status_code=failure.status_code)
        page = services.templates.get_template("dashboard/index.html").render(
            dry_run=services.dry_run, **shown
        )
        return HTMLResponse(page)

    return router
