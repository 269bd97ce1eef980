"""The webhook routes: one :class:`~bot.intake.pipeline.Source` per sender, all run by
:meth:`~bot.intake.pipeline.Intake.endpoint` (verify → parse → store and enqueue → answer).

How each sender is verified is :mod:`bot.intake.verify`; the shared steps, and the order of checks
with their status codes, are :mod:`bot.intake.pipeline`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter

from bot.events import (
    MalformedEvent,
    ParsedEvent,
    parse_alertmanager,
    parse_github,
    parse_gitlab,
    parse_mlflow,
    parse_registry,
    parse_slack_command,
    parse_slack_interaction,
)
from bot.intake.activity import IntakeActivity
from bot.intake.errors import IntakeError
from bot.intake.pipeline import Intake, Parse, Source
from bot.intake.store import GroupCommitWriter
from bot.intake.verify import github_request, gitlab_request, mlflow_request, slack_request, token_request
from bot.services import Services


def _events(parser: Callable[..., list[ParsedEvent]], *args: Any) -> list[ParsedEvent]:
    try:
        parsed = parser(*args)
    except MalformedEvent as exc:
        raise IntakeError(400, str(exc)) from exc
    if not parsed:
        raise IntakeError(400, "the body holds no events")
    return parsed


def _slack_form(body: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError as exc:
        raise IntakeError(400, "Slack body is not UTF-8 form data") from exc


def _from_body(parser: Callable[[Mapping[str, str], bytes], list[ParsedEvent]]) -> Parse:
    """Webhooks: the parser reads the headers and the body."""
    return lambda verified: _events(parser, verified.headers, verified.body)


def _from_slack_form(parser: Callable[[Mapping[str, str]], list[ParsedEvent]]) -> Parse:
    """Slack: the body is form data."""
    return lambda verified: _events(parser, _slack_form(verified.body))


@dataclass(frozen=True)
class Route:
    path: str
    name: str  # the route's name (and OpenAPI operation), as the decorated functions had
    source: Source


ROUTES: tuple[Route, ...] = (
    Route(
        "/webhooks/github",
        "github_webhook",
        Source("github", github_request, _from_body(parse_github), Intake.answer),
    ),
    Route(
        "/webhooks/gitlab",
        "gitlab_webhook",
        Source("gitlab", gitlab_request, _from_body(parse_gitlab), Intake.answer),
    ),
    Route(
        "/webhooks/registry",
        "registry_webhook",
        Source("registry", token_request, _from_body(parse_registry), Intake.answer),
    ),
    Route(
        "/webhooks/alertmanager",
        "alertmanager_webhook",
        Source("alertmanager", token_request, _from_body(parse_alertmanager), Intake.answer),
    ),
    Route(
        "/webhooks/mlflow",
        "mlflow_webhook",
        Source("mlflow", mlflow_request, _from_body(parse_mlflow), Intake.answer),
    ),
    Route(
        "/slack/commands",
        "slack_command",
        Source("slack", slack_request, _from_slack_form(parse_slack_command), Intake.answer_slack_command),
    ),
    Route(
        "/slack/interactions",
        "slack_interaction",
        Source(
            "slack", slack_request, _from_slack_form(parse_slack_interaction), Intake.answer_slack_interaction
        ),
    ),
)


def build_intake_router(
    services: Services,
    writer: GroupCommitWriter,
    on_enqueued: Callable[[], None] | None = None,
    activity: IntakeActivity | None = None,
) -> APIRouter:
    intake = Intake(services, writer, on_enqueued, activity)
    router = APIRouter()
    for route in ROUTES:
        router.add_api_route(route.path, intake.endpoint(route.source), methods=["POST"], name=route.name)
    return router
