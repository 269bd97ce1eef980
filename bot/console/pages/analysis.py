"""``/analyses/{id}``: one canary analysis, a chart per metric, the decision, "Roll back now" and
"Promote"; ``/analyses/{id}/events`` tells a watching page when to reload (server-sent events).

What the page shows is decided in :mod:`bot.console.analysis_view` and drawn from
:mod:`bot.console.charts`; here the rows are read (off the event loop) and the two actions call
the same code as ``/gitops rollback`` / ``/gitops promote`` and the Slack buttons.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy import func, or_, select
from starlette.concurrency import run_in_threadpool

from bot.audit import record_action
from bot.console import analysis_view as view
from bot.console.render import Console, console_of
from bot.console.security import Viewer, permission_refusal, require_action, require_viewer
from bot.deployments import plan as plans
from bot.deployments.ladder_store import rung_dicts
from bot.deployments.store import DeployedVersion
from bot.pagination import parse_id
from bot.storage.models import Action, Analysis, AnalysisInterval, Deployment

if TYPE_CHECKING:
    from bot.services import Services

POLL_SECONDS = 2.0  # how often a watching page's stream looks at the database
STREAM_SECONDS = 600.0  # then the stream ends; the browser's EventSource reconnects by itself
KEEPALIVE_SECONDS = 20.0  # a comment now and then, so a vanished client is noticed on send


@dataclass(frozen=True)
class Entry:
    """An audit row about the analysis or its version (who rolled back, promoted, and how it went)."""

    id: int
    at: datetime
    kind: str
    actor: str
    target: str | None
    summary: str
    outcome: str
    dry_run: bool


@dataclass(frozen=True)
class Loaded:
    """One analysis as the page needs it."""

    id: int
    status: str
    reason: str | None
    config: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    deployment: DeployedVersion
    intervals: list[view.IntervalRecord]
    history: list[Entry]  # audit rows about this analysis or its version, newest first
    rungs: list[dict[str, Any]]  # the traffic steps' rows (none without steps)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.status, len(self.intervals))

    @property
    def plan_target(self) -> str:
        return f"analysis:{self.id}"


def fingerprint(status: str, count: int) -> str:
    """What a watching page has seen; the stream says ``refresh`` as soon as it differs."""
    return f"{status}:{count}"


def load(services: Services, analysis_id: int) -> Loaded | None:
    with services.database.sessions() as session:
        row = session.get(Analysis, analysis_id)
        deployment = None if row is None else session.get(Deployment, row.deployment_id)
        if row is None or deployment is None:
            return None
        intervals = [
            view.IntervalRecord(
                item.index, item.at, item.verdict, item.request_count, item.measurements or {}
            )
            for item in session.scalars(
                select(AnalysisInterval)
                .where(AnalysisInterval.analysis_id == analysis_id)
                .order_by(AnalysisInterval.index)
            )
        ]
        targets = (f"analysis:{analysis_id}", f"{deployment.name}@{deployment.version}")
        history = [
            Entry(a.id, a.at, a.kind, a.actor, a.target, a.summary, a.outcome, a.dry_run)
            for a in session.scalars(
                select(Action)
                .where(Action.repo == deployment.repo, or_(*(Action.target == t for t in targets)))
                .order_by(Action.id.desc())
                .limit(20)
            )
        ]
        return Loaded(
            id=row.id,
            status=row.status,
            reason=row.reason,
            config=dict(row.config or {}),
            started_at=row.started_at,
            finished_at=row.finished_at,
            deployment=DeployedVersion.of(deployment),
            intervals=intervals,
            history=history,
            rungs=rung_dicts(session, analysis_id),
        )


def read_state(services: Services, analysis_id: int) -> tuple[str, int] | None:
    """(status, number of intervals): the cheap look a watching page's stream takes."""
    with services.database.sessions() as session:
        status = session.scalar(select(Analysis.status).where(Analysis.id == analysis_id))
        if status is None:
            return None
        count = session.scalar(
            select(func.count(AnalysisInterval.id)).where(AnalysisInterval.analysis_id == analysis_id)
        )
        return str(status), int(count or 0)


def prometheus_link_base(services: Services) -> str:
    settings = services.settings
    return settings.prometheus_public_url or settings.prometheus_url


async def analysis_events(
    state: Callable[[], Awaitable[tuple[str, int] | None]],
    seen: str,
    gone: Callable[[], Awaitable[bool]],
    *,
    poll_seconds: float = POLL_SECONDS,
    stream_seconds: float = STREAM_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[str]:
    """``refresh`` once the analysis differs from what the page showed (``seen``), ``end`` once it
    finished (or vanished); nothing else is ever sent but keep-alive comments."""
    yield "retry: 5000\n\n"
    waited = quiet = 0.0
    while waited < stream_seconds:
        if await gone():
            return
        now = await state()
        if now is None or now[0] not in plans.ACTIVE_ANALYSIS:
            yield f"event: end\ndata: {now[0] if now else 'gone'}\n\n"
            return
        if fingerprint(*now) != seen:
            yield f"event: refresh\ndata: {fingerprint(*now)}\n\n"
            return
        if quiet >= KEEPALIVE_SECONDS:
            yield ": still running\n\n"
            quiet = 0.0
        await sleep(poll_seconds)
        waited += poll_seconds
        quiet += poll_seconds


router = APIRouter()


@router.get("/analyses/{analysis_id}", name="console-analysis")
async def analysis_page(
    analysis_id: str,
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    console: Console = Depends(console_of),
) -> Response:
    found_id = parse_id(analysis_id)
    loaded = None if found_id is None else await run_in_threadpool(load, console.services, found_id)
    if loaded is None:
        return await console.page(
            request,
            "analysis.html.j2",
            title="No such analysis",
            status_code=404,
            missing=analysis_id[:40],
        )
    return await console.page(
        request, "analysis.html.j2", title=_title(loaded), **_context(console, request, loaded)
    )


@router.get("/analyses/{analysis_id}/events", name="console-analysis-events")
async def analysis_stream(
    analysis_id: str,
    request: Request,
    viewer: Viewer = Depends(require_viewer),
    console: Console = Depends(console_of),
) -> Response:
    found_id = parse_id(analysis_id)
    if found_id is None:
        return Response("no such analysis", status_code=404, media_type="text/plain")

    async def state() -> tuple[str, int] | None:
        return await run_in_threadpool(read_state, console.services, found_id)

    events = analysis_events(state, request.query_params.get("seen", ""), request.is_disconnected)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


@router.post("/analyses/{analysis_id}/rollback", name="console-analysis-rollback")
async def roll_back(
    analysis_id: str,
    request: Request,
    viewer: Viewer = Depends(require_action),
    console: Console = Depends(console_of),
) -> Response:
    return await _act(console, request, viewer, analysis_id, "rollback")


@router.post("/analyses/{analysis_id}/promote", name="console-analysis-promote")
async def promote(
    analysis_id: str,
    request: Request,
    viewer: Viewer = Depends(require_action),
    console: Console = Depends(console_of),
) -> Response:
    return await _act(console, request, viewer, analysis_id, "promote")


def _title(loaded: Loaded) -> str:
    row = loaded.deployment
    return f"Analysis {loaded.id}: {row.name} {row.version}"


def _context(console: Console, request: Request, loaded: Loaded) -> dict[str, Any]:
    services = console.services
    series = view.analysis_series(loaded.config, loaded.intervals, prometheus_link_base(services))
    decision = view.decision(loaded.config, loaded.status, loaded.reason, loaded.intervals)
    row = loaded.deployment
    shown_action = _shown_action(loaded, request.query_params.get("action", ""))
    return {
        "analysis": loaded,
        "deployment": row,
        # Only web links become links, whatever a stored URL says.
        "links": {"pr": view.web_link(row.pr_url), "rollback_pr": view.web_link(row.rollback_pr_url)},
        "metrics": [(item, item.chart()) for item in series],
        "lines": view.interval_lines(series, loaded.intervals),
        "decision": decision,
        "actions": view.actions(
            loaded.config.get("promote_to"), row.status, has_rollback_pr=row.rollback_pr_number is not None
        ),
        "stream": (
            f"/analyses/{loaded.id}/events?{urlencode({'seen': loaded.fingerprint})}"
            if decision.running
            else None
        ),
        "flash": shown_action,
        "history": loaded.history,
        "ladder": view.ladder(loaded.config, loaded.rungs),
    }


def _shown_action(loaded: Loaded, raw: str) -> Entry | None:
    """The console action just taken on this analysis (named in the redirect), read from the
    audit log: the page never shows text taken from its own URL."""
    wanted = parse_id(raw)
    return next(
        (row for row in loaded.history if row.id == wanted and row.target == loaded.plan_target), None
    )


# -- actions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    outcome: str
    summary: str


async def _act(console: Console, request: Request, viewer: Viewer, raw_id: str, command: str) -> Response:
    found_id = parse_id(raw_id)
    loaded = None if found_id is None else await run_in_threadpool(load, console.services, found_id)
    if loaded is None:
        return Response("no such analysis", status_code=404, media_type="text/plain")
    action_id = await run_in_threadpool(_run_action, console.services, viewer, loaded, command)
    return RedirectResponse(f"/analyses/{loaded.id}?action={action_id}#actions", status_code=303)


def _run_action(services: Services, viewer: Viewer, loaded: Loaded, command: str) -> int:
    """Check the viewer's permission, run the command's own code, audit it; the audit row's id."""
    row = loaded.deployment
    label = "Roll back now" if command == "rollback" else "Promote"
    refusal = permission_refusal(services, viewer, row.repo, command)
    if refusal is not None:
        done = Done("refused", f"{label} for {row.name} {row.version} refused for {viewer.login}: {refusal}")
    elif command == "rollback":
        done = _roll_back(services, viewer, loaded)
    else:
        done = _promote(services, viewer, loaded)
    with services.database.transaction() as session:
        action = record_action(
            session,
            kind=f"console.{command}",
            actor=viewer.login,
            summary=done.summary,
            repo=row.repo,
            target=loaded.plan_target,
            outcome=done.outcome,
            dry_run=services.dry_run,
            details={"deployment": row.name, "version": row.version, "via": viewer.via}
            | ({"reason": refusal or done.summary} if done.outcome == "refused" else {}),
        )
        session.flush()
        return action.id


def _roll_back(services: Services, viewer: Viewer, loaded: Loaded) -> Done:
    from bot.deployments.rollback import request_rollback

    row = loaded.deployment
    outcome = request_rollback(
        services,
        repo=row.repo,
        deployment=row.name,
        deployment_id=row.id,
        requested_by=viewer.login,
        reason=f"“Roll back now” pressed in the console by {viewer.login} (analysis {loaded.id})",
        installation_id=loaded.config.get("installation_id"),
    )
    return Done(outcome.status, outcome.message)


def _promote(services: Services, viewer: Viewer, loaded: Loaded) -> Done:
    from bot.updates.service import promote

    row = loaded.deployment
    outcome = promote(
        services,
        repo=row.repo,
        from_deployment=row.name,
        version=row.version,
        digest=row.details.get("digest"),
        requested_by=viewer.login,
        installation_id=loaded.config.get("installation_id"),
    )
    return Done(outcome.status, outcome.message)


__all__ = ["analysis_events", "fingerprint", "load", "read_state", "router"]
