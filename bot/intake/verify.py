"""The first step of every webhook route: is the sender who it says it is? One function per kind of
credential; each returns the verified body (at most ``limit`` bytes) and headers, or raises
:class:`IntakeError`.

Order of checks, everywhere: the secret is configured (else 503), the credentials are present and
right (else 401), the body fits (else 413). The body is read under the size cap before an HMAC can
be checked, since the signature covers it; token-authenticated routes refuse before reading
anything.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import Request
from pydantic import SecretStr

from bot.intake.body import read_limited_body
from bot.intake.errors import IntakeError
from bot.intake.signatures import verify_github, verify_gitlab, verify_mlflow, verify_slack, verify_token
from bot.settings import Settings


@dataclass(frozen=True)
class Verified:
    body: bytes
    headers: Mapping[str, str]  # names lower-cased
    # Bound to every log line of the rest of the request (the delivery id, for GitHub).
    log_context: Mapping[str, str | None] = field(default_factory=dict)


def _secret(value: SecretStr | None, variable: str) -> str:
    if value is None or not value.get_secret_value():
        raise IntakeError(503, f"this endpoint is disabled: set {variable} to enable it")
    return value.get_secret_value()


def _headers(request: Request) -> dict[str, str]:
    return {key.lower(): value for key, value in request.headers.items()}


async def github_request(request: Request, settings: Settings, limit: int) -> Verified:
    """``X-Hub-Signature-256``: HMAC-SHA256 of the body with the webhook secret."""
    secret = _secret(settings.github_webhook_secret, "GITOPS_BOT_GITHUB_WEBHOOK_SECRET")
    signature = request.headers.get("x-hub-signature-256")
    if not signature:
        raise IntakeError(401, "missing X-Hub-Signature-256 header")
    body = await read_limited_body(request, limit)
    if not verify_github(secret, body, signature):
        raise IntakeError(401, "X-Hub-Signature-256 does not match the body")
    headers = _headers(request)
    return Verified(body, headers, {"delivery_id": headers.get("x-github-delivery")})


async def gitlab_request(request: Request, settings: Settings, limit: int) -> Verified:
    """``X-Gitlab-Token``: the webhook's secret token, checked before the body is read."""
    secret = _secret(settings.gitlab_webhook_secret, "GITOPS_BOT_GITLAB_WEBHOOK_SECRET")
    presented = request.headers.get("x-gitlab-token")
    if not presented:
        raise IntakeError(401, "missing X-Gitlab-Token header")
    if not verify_gitlab(secret, presented):
        raise IntakeError(401, "X-Gitlab-Token is not this webhook's secret token")
    body = await read_limited_body(request, limit)
    headers = _headers(request)
    delivery = headers.get("x-gitlab-event-uuid") or headers.get("idempotency-key")
    return Verified(body, headers, {"delivery_id": delivery})


async def token_request(request: Request, settings: Settings, limit: int) -> Verified:
    """Registries and Alertmanager: the shared token, as a bearer token or ``?token=``."""
    token = _secret(settings.registry_token, "GITOPS_BOT_REGISTRY_TOKEN")
    if not verify_token(token, request.headers.get("authorization"), request.query_params.get("token")):
        raise IntakeError(401, "missing or wrong token (use Authorization: Bearer <token> or ?token=)")
    body = await read_limited_body(request, limit)
    return Verified(body, _headers(request))


async def mlflow_request(request: Request, settings: Settings, limit: int) -> Verified:
    """``X-MLflow-Signature`` (v1), over the delivery id, the timestamp and the body, in a window."""
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
    return Verified(body, _headers(request))


async def slack_request(request: Request, settings: Settings, limit: int) -> Verified:
    """Slack's v0 signature over the timestamp and the body, within 300 s."""
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
    return Verified(body, _headers(request))
