"""Health, metrics and the read-only JSON API (the console's pages are in ``bot/console/``).

No /api route answers a bare 500: a bad query parameter is a 400 with
the reason, an id that cannot exist is a 404, and a database that is away (unreachable,
wrong URL, not migrated) is a 503 in /readyz's words.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.console.analysis_view import IntervalRecord, analysis_series
from bot.deployments.ladder_store import rung_dicts
from bot.pagination import MAX_LIMIT, BadRequest, Cursor, PageRequest, next_link, parse_id, parse_page
from bot.services import Services
from bot.storage.availability import database_readiness, diagnose
from bot.storage.db import Database
from bot.storage.models import Action, Analysis, AnalysisInterval, Deployment, DriftCheck, Event
from bot.storage.types import utcnow
from bot.terraform.locks import LockInfo, LockStore

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


def drift_json(row: DriftCheck) -> dict[str, Any]:
    return {
        "repo": row.repo,
        "project": row.project,
        "dir": row.dir,
        "workspace": row.workspace,
        "status": row.status,
        "headline": row.headline,
        "head_sha": row.head_sha,
        "issue_number": row.issue_number,
        "checked_at": row.checked_at.isoformat(),
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
        "step": row.step,  # with traffic steps: the rung it is on (0-based); see "steps"
        "paused_by": row.paused_by,
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


Page = tuple[list[dict[str, Any]], Cursor | None]
Endpoint = Callable[..., Awaitable[Response]]


def newest_rows(
    database: Database,
    model: Any,
    order_column: Any,
    to_json: Callable[[Any], dict[str, Any]],
    page: PageRequest,
) -> Page:
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


def newest_locks(locks: LockStore, page: PageRequest) -> Page:
    """One page of locks, newest first, and the key of its last lock when more follow."""
    before = (page.after.at, page.after.id) if page.after is not None else None
    found = locks.newest(page.limit + 1, before=before)
    more = len(found) > page.limit
    found = found[: page.limit]
    now = utcnow()
    last = Cursor(found[-1].created_at, found[-1].id) if more else None
    return [lock_json(lock, now) for lock in found], last


def _app_database(arguments: dict[str, Any]) -> Database:
    owner = arguments.get("services") or arguments["console"].services
    database: Database = owner.database
    return database


def answered(database: Database | None = None) -> Callable[[Endpoint], Endpoint]:
    """400 for a bad parameter, 503 (or 400) with the reason for a failed database call.

    Without ``database``, the database is the app's, read from the ``services`` (API routes) or
    the ``console`` (console routes) the endpoint is given: routes declared once per process
    serve every app.
    """

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(*args: Any, **kwargs: Any) -> Response:
            try:
                return await endpoint(*args, **kwargs)
            except BadRequest as exc:
                return JSONResponse({"detail": str(exc)}, status_code=400)
            except SQLAlchemyError as exc:
                used = database if database is not None else _app_database(kwargs)
                failure = await run_in_threadpool(diagnose, used, exc)
                if failure.status_code != 503:
                    return JSONResponse({"detail": failure.reason}, failure.status_code)
                return JSONResponse({"status": "unavailable", "error": failure.reason}, 503)

        return wrapper

    return decorate


async def listing(
    database: Database,
    request: Request,
    model: Any,
    order_column: Any,
    to_json: Callable[[Any], dict[str, Any]],
    limit: str | None,
    cursor: str | None,
) -> Response:
    """The ``/api`` list of ``model``, newest first, one page per request."""
    page = parse_page(limit, cursor)
    items, last = await run_in_threadpool(newest_rows, database, model, order_column, to_json, page)
    return page_response(request, items, page, last)


def services_of(request: Request) -> Services:
    """The services of the app serving ``request``: the routes here are declared once per process
    (FastAPI works out each route's parameters when it is declared) and serve every app."""
    services: Services = request.app.state.services
    return services


router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: Services = Depends(services_of)) -> Response:
    # How pull requests' Terraform runs is a detail, not a readiness condition: without a
    # sandbox only terraform commands are refused; everything else is served.
    details = {"terraform": (await run_in_threadpool(services.terraform_status)).as_json()}
    readiness = await run_in_threadpool(database_readiness, services.database)
    if readiness.problem is None:
        return JSONResponse({"status": "ready", "schema": readiness.current, "details": details})
    body = {"status": "unavailable", "error": readiness.problem, "details": details}
    if readiness.head is not None:
        body |= {"current": readiness.current, "head": readiness.head}
    return JSONResponse(body, 503)


@router.get("/metrics")
async def metrics(services: Services = Depends(services_of)) -> Response:
    body = await run_in_threadpool(generate_latest, services.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


# -- /api/deployments, /api/analyses and one analysis with its intervals ----------------------------


@router.get("/api/deployments")
@answered()
async def api_deployments(
    request: Request,
    limit: str | None = LIMIT_QUERY,
    cursor: str | None = CURSOR_QUERY,
    services: Services = Depends(services_of),
) -> Response:
    order = Deployment.merged_at
    return await listing(services.database, request, Deployment, order, deployment_json, limit, cursor)


@router.get("/api/analyses")
@answered()
async def api_analyses(
    request: Request,
    limit: str | None = LIMIT_QUERY,
    cursor: str | None = CURSOR_QUERY,
    services: Services = Depends(services_of),
) -> Response:
    database = services.database
    return await listing(database, request, Analysis, Analysis.started_at, analysis_json, limit, cursor)


@router.get("/api/analyses/{analysis_id}")
@answered()
async def api_analysis(analysis_id: str, services: Services = Depends(services_of)) -> Response:
    found_id = parse_id(analysis_id)
    found = None if found_id is None else await run_in_threadpool(load_analysis, services.database, found_id)
    if found is None:
        return JSONResponse({"detail": f"no analysis {analysis_id[:40]}"}, status_code=404)
    return JSONResponse(found)


def load_analysis(database: Database, analysis_id: int) -> dict[str, Any] | None:
    """One analysis with its intervals in order, or None when there is no such analysis."""
    with database.sessions() as session:
        row = session.get(Analysis, analysis_id)
        if row is None:
            return None
        intervals = list(
            session.scalars(
                select(AnalysisInterval)
                .where(AnalysisInterval.analysis_id == analysis_id)
                .order_by(AnalysisInterval.index)
            )
        )
        # Per metric, what the console's chart shows: value, bound, baseline and status per interval.
        records = [
            IntervalRecord(item.index, item.at, item.verdict, item.request_count, item.measurements or {})
            for item in intervals
        ]
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
            "series": [series.to_json() for series in analysis_series(row.config or {}, records)],
            "steps": [
                {**item, "started_at": _iso(item["started_at"]), "finished_at": _iso(item["finished_at"])}
                for item in rung_dicts(session, analysis_id)
            ],
        }


def _iso(at: Any) -> str | None:
    return at.isoformat() if at is not None else None


@router.get("/api/locks")
@answered()
async def api_locks(
    request: Request,
    limit: str | None = LIMIT_QUERY,
    cursor: str | None = CURSOR_QUERY,
    services: Services = Depends(services_of),
) -> Response:
    page = parse_page(limit, cursor)
    items, last = await run_in_threadpool(newest_locks, services.locks, page)
    return page_response(request, items, page, last)


@router.get("/api/drift")
@answered()
async def api_drift(
    request: Request,
    limit: str | None = LIMIT_QUERY,
    cursor: str | None = CURSOR_QUERY,
    services: Services = Depends(services_of),
) -> Response:
    """The latest drift check of each scheduled project, most recently checked first."""
    page = parse_page(limit, cursor)
    items, last = await run_in_threadpool(
        newest_rows, services.database, DriftCheck, DriftCheck.checked_at, drift_json, page
    )
    return page_response(request, items, page, last)
