"""The webhook routes. Each verifies its source first, then stores, enqueues and answers.

Order of checks, everywhere: the secret is configured (else 503), the credentials are
present and right (else 401), the body fits (else 413), the body parses and its event can
be stored (else 400), the database takes it (else 503 saying why: unreachable, not
migrated).
The body is read under the size cap before an HMAC can be checked, since the
signature covers it; token-authenticated routes refuse before reading anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.events import (
    MalformedEvent,
    ParsedEvent,
    parse_alertmanager,
    parse_github,
    parse_mlflow,
    parse_registry,
    parse_slack_command,
    parse_slack_interaction,
)
from bot.intake.body import read_limited_body
from bot.intake.errors import IntakeError
from bot.intake.signatures import verify_github, verify_mlflow, verify_slack, verify_token
from bot.intake.storable import storable_events
from bot.intake.store import GroupCommitWriter, StoredEvent
from bot.services import Services
from bot.storage.availability import diagnose

log = structlog.get_logger("gitops_bot.intake")

SLACK_ACK_TEXT = "Working on it…"


def _secret(value: SecretStr | None, variable: str) -> str:
    if value is None or not value.get_secret_value():
        raise IntakeError(503, f"this endpoint is disabled: set {variable} to enable it")
    return value.get_secret_value()


def _parse(parser: Callable[..., list[ParsedEvent]], *args: Any) -> list[ParsedEvent]:
    try:
        parsed = parser(*args)
    except MalformedEvent as exc:
        raise IntakeError(400, str(exc)) from exc
    if not parsed:
        raise IntakeError(400, "the body holds no events")
    return parsed


def build_intake_router(
    services: Services, writer: GroupCommitWriter, on_enqueued: Callable[[], None] | None = None
) -> APIRouter:
    router = APIRouter()
    settings = services.settings
    metrics = services.metrics
    limit = settings.max_body_bytes

    async def persist(source: str, parsed: Sequence[ParsedEvent]) -> list[StoredEvent]:
        storable = storable_events(parsed)
        try:
            outcomes = await writer.submit(storable)
        except SQLAlchemyError as exc:
            failure = await run_in_threadpool(diagnose, services.database, exc)
            outcome = "database_unavailable" if failure.status_code == 503 else "malformed"
            raise IntakeError(failure.status_code, failure.reason, outcome=outcome) from exc
        for outcome in outcomes:
            metrics.events_stored.labels(source, outcome.status).inc()
            log.info(
                "event_stored",
                source=source,
                delivery_id=outcome.delivery_id,
                kind=f"{outcome.event}.{outcome.action}" if outcome.action else outcome.event,
                status=outcome.status,
                event_id=outcome.id,
            )
        if on_enqueued is not None and any(outcome.handlers for outcome in outcomes):
            on_enqueued()
        return outcomes

    def answer(source: str, outcomes: Sequence[StoredEvent], started: float) -> JSONResponse:
        if all(outcome.duplicate for outcome in outcomes):
            status_code, outcome_label = 200, "duplicate"
        elif all(outcome.event == "ping" for outcome in outcomes):
            status_code, outcome_label = 200, "ping"
        else:
            status_code = 202
            outcome_label = "accepted" if any(o.status == "queued" for o in outcomes) else "ignored"
        metrics.webhook_requests.labels(source, outcome_label).inc()
        metrics.webhook_latency.labels(source).observe(time.perf_counter() - started)
        return JSONResponse(
            {"status": outcome_label, "events": [outcome.as_json() for outcome in outcomes]},
            status_code=status_code,
        )

    def refuse(source: str, error: IntakeError, started: float) -> JSONResponse:
        metrics.webhook_requests.labels(source, error.outcome).inc()
        metrics.webhook_latency.labels(source).observe(time.perf_counter() - started)
        log.info("webhook_refused", source=source, status=error.status_code, reason=error.message)
        return JSONResponse({"error": error.message}, status_code=error.status_code)

    def headers_of(request: Request) -> dict[str, str]:
        return {key.lower(): value for key, value in request.headers.items()}

    @router.post("/webhooks/github")
    async def github_webhook(request: Request) -> Response:
        started = time.perf_counter()
        try:
            secret = _secret(settings.github_webhook_secret, "GITOPS_BOT_GITHUB_WEBHOOK_SECRET")
            signature = request.headers.get("x-hub-signature-256")
            if not signature:
                raise IntakeError(401, "missing X-Hub-Signature-256 header")
            body = await read_limited_body(request, limit)
            if not verify_github(secret, body, signature):
                raise IntakeError(401, "X-Hub-Signature-256 does not match the body")
            headers = headers_of(request)
            with structlog.contextvars.bound_contextvars(delivery_id=headers.get("x-github-delivery")):
                parsed = _parse(parse_github, headers, body)
                return answer("github", await persist("github", parsed), started)
        except IntakeError as error:
            return refuse("github", error, started)

    def _token_check(request: Request) -> None:
        token = _secret(settings.registry_token, "GITOPS_BOT_REGISTRY_TOKEN")
        if not verify_token(token, request.headers.get("authorization"), request.query_params.get("token")):
            raise IntakeError(401, "missing or wrong token (use Authorization: Bearer <token> or ?token=)")

    @router.post("/webhooks/registry")
    async def registry_webhook(request: Request) -> Response:
        started = time.perf_counter()
        try:
            _token_check(request)
            body = await read_limited_body(request, limit)
            parsed = _parse(parse_registry, headers_of(request), body)
            return answer("registry", await persist("registry", parsed), started)
        except IntakeError as error:
            return refuse("registry", error, started)

    @router.post("/webhooks/alertmanager")
    async def alertmanager_webhook(request: Request) -> Response:
        started = time.perf_counter()
        try:
            _token_check(request)
            body = await read_limited_body(request, limit)
            parsed = _parse(parse_alertmanager, headers_of(request), body)
            return answer("alertmanager", await persist("alertmanager", parsed), started)
        except IntakeError as error:
            return refuse("alertmanager", error, started)

    @router.post("/webhooks/mlflow")
    async def mlflow_webhook(request: Request) -> Response:
        started = time.perf_counter()
        try:
            secret = _secret(settings.mlflow_webhook_secret, "GITOPS_BOT_MLFLOW_WEBHOOK_SECRET")
            if not request.headers.get("x-mlflow-signature"):
                raise IntakeError(401, "missing X-MLflow-Signature header")
            body = await read_limited_body(request, limit)
            problem = verify_mlflow(
                secret,
                body,
                signature_header=request.headers.get("x-mlflow-signature"),
                delivery_id=request.headers.get("x-mlflow-delivery-id"),
                timestamp=request.headers.get("x-mlflow-timestamp"),
                now=time.time(),
                window_seconds=settings.signature_window_seconds,
            )
            if problem:
                raise IntakeError(401, problem)
            parsed = _parse(parse_mlflow, headers_of(request), body)
            return answer("mlflow", await persist("mlflow", parsed), started)
        except IntakeError as error:
            return refuse("mlflow", error, started)

    async def slack_form(request: Request) -> dict[str, str]:
        secret = _secret(settings.slack_signing_secret, "GITOPS_BOT_SLACK_SIGNING_SECRET")
        if not request.headers.get("x-slack-signature"):
            raise IntakeError(401, "missing X-Slack-Signature header")
        body = await read_limited_body(request, limit)
        if not verify_slack(
            secret,
            body,
            signature_header=request.headers.get("x-slack-signature"),
            timestamp=request.headers.get("x-slack-request-timestamp"),
            now=time.time,
        ):
            raise IntakeError(401, "Slack signature is wrong or outside the 300 s window")
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError as exc:
            raise IntakeError(400, "Slack body is not UTF-8 form data") from exc

    def slack_answer(
        outcomes: Sequence[StoredEvent], started: float, body: Mapping[str, Any] | None
    ) -> Response:
        # Slack wants a 200 within 3 s; anything else shows the user an error.
        label = "duplicate" if all(o.duplicate for o in outcomes) else "accepted"
        metrics.webhook_requests.labels("slack", label).inc()
        metrics.webhook_latency.labels("slack").observe(time.perf_counter() - started)
        if body is None:
            return Response(status_code=200)
        return JSONResponse(dict(body), status_code=200)

    @router.post("/slack/commands")
    async def slack_command(request: Request) -> Response:
        started = time.perf_counter()
        try:
            form = await slack_form(request)
            parsed = _parse(parse_slack_command, form)
            outcomes = await persist("slack", parsed)
            return slack_answer(outcomes, started, {"response_type": "ephemeral", "text": SLACK_ACK_TEXT})
        except IntakeError as error:
            return refuse("slack", error, started)

    @router.post("/slack/interactions")
    async def slack_interaction(request: Request) -> Response:
        started = time.perf_counter()
        try:
            form = await slack_form(request)
            parsed = _parse(parse_slack_interaction, form)
            outcomes = await persist("slack", parsed)
            return slack_answer(outcomes, started, None)
        except IntakeError as error:
            return refuse("slack", error, started)

    return router
