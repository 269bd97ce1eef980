"""Health, metrics, the read-only JSON API and the dashboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from bot.services import Services
from bot.storage.models import Action, Analysis, AnalysisInterval, Deployment, Event

MAX_LIMIT = 500


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


def build_api_router(services: Services) -> APIRouter:
    router = APIRouter()
    database = services.database

    def newest(
        model: Any, order_column: Any, to_json: Callable[[Any], dict[str, Any]], limit: int
    ) -> list[Any]:
        with database.sessions() as session:
            rows = session.execute(select(model).order_by(order_column.desc(), model.id.desc()).limit(limit))
            return [to_json(row) for row in rows.scalars()]

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> Response:
        try:
            state = await run_in_threadpool(database.schema_state)
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "error": f"database unreachable: {exc}"}, 503)
        if not state.up_to_date:
            return JSONResponse(
                {
                    "status": "unavailable",
                    "error": "database schema is behind: run `gitops-bot migrate`",
                    "current": state.current,
                    "head": state.head,
                },
                503,
            )
        return JSONResponse({"status": "ready", "schema": state.current})

    @router.get("/metrics")
    async def metrics() -> Response:
        body = await run_in_threadpool(generate_latest, services.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @router.get("/api/events")
    async def api_events(limit: int = Query(50, ge=1, le=MAX_LIMIT)) -> list[dict[str, Any]]:
        return await run_in_threadpool(newest, Event, Event.received_at, event_json, limit)

    @router.get("/api/actions")
    async def api_actions(limit: int = Query(50, ge=1, le=MAX_LIMIT)) -> list[dict[str, Any]]:
        return await run_in_threadpool(newest, Action, Action.at, action_json, limit)

    @router.get("/api/deployments")
    async def api_deployments(limit: int = Query(50, ge=1, le=MAX_LIMIT)) -> list[dict[str, Any]]:
        return await run_in_threadpool(newest, Deployment, Deployment.merged_at, deployment_json, limit)

    @router.get("/api/analyses")
    async def api_analyses(limit: int = Query(50, ge=1, le=MAX_LIMIT)) -> list[dict[str, Any]]:
        return await run_in_threadpool(newest, Analysis, Analysis.started_at, analysis_json, limit)

    @router.get("/api/analyses/{analysis_id}")
    async def api_analysis(analysis_id: int) -> Response:
        def load() -> dict[str, Any] | None:
            with services.database.sessions() as session:
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

        found = await run_in_threadpool(load)
        if found is None:
            return JSONResponse({"detail": f"no analysis {analysis_id}"}, status_code=404)
        return JSONResponse(found)

    @router.get("/", response_class=HTMLResponse)
    async def dashboard() -> HTMLResponse:
        events = await run_in_threadpool(newest, Event, Event.received_at, event_json, 25)
        actions = await run_in_threadpool(newest, Action, Action.at, action_json, 25)
        counts = await run_in_threadpool(services.queue.counts)
        page = services.templates.get_template("dashboard/index.html").render(
            events=events, actions=actions, queue=counts, dry_run=services.dry_run
        )
        return HTMLResponse(page)

    return router
