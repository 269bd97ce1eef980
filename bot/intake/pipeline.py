"""The steps every webhook route shares: verify → parse → store (which enqueues) → answer, or refuse.

A :class:`Source` names the steps that differ per sender (how it is verified, how its body is
parsed, how it wants to be answered); :meth:`Intake.endpoint` runs them in that order, so every
route checks, stores, counts and logs the same way. After verifying: the body parses and its event
can be stored (else 400), the database takes it (else 503 saying why: unreachable, not migrated).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.events import ParsedEvent
from bot.intake.activity import IntakeActivity
from bot.intake.errors import IntakeError
from bot.intake.storable import storable_events
from bot.intake.store import GroupCommitWriter, StoredEvent
from bot.intake.verify import Verified
from bot.services import Services
from bot.settings import Settings
from bot.storage.availability import diagnose

log = structlog.get_logger("gitops_bot.intake")

Verify = Callable[[Request, Settings, int], Awaitable[Verified]]
Parse = Callable[[Verified], list[ParsedEvent]]
Answer = Callable[["Intake", str, Sequence[StoredEvent], float], Response]
Endpoint = Callable[[Request], Awaitable[Response]]

SLACK_ACK_TEXT = "Working on it…"


@dataclass(frozen=True)
class Source:
    label: str  # in metrics and logs: github, registry, alertmanager, mlflow, slack
    verify: Verify
    parse: Parse
    answer: Answer


def webhook_outcome(outcomes: Sequence[StoredEvent]) -> tuple[int, str]:
    """The status code and the metrics label of a stored delivery."""
    if all(outcome.duplicate for outcome in outcomes):
        return 200, "duplicate"
    if all(outcome.event == "ping" for outcome in outcomes):
        return 200, "ping"
    return 202, "accepted" if any(o.status == "queued" for o in outcomes) else "ignored"


def slack_outcome(outcomes: Sequence[StoredEvent]) -> str:
    return "duplicate" if all(o.duplicate for o in outcomes) else "accepted"


class Intake:
    def __init__(
        self,
        services: Services,
        writer: GroupCommitWriter,
        on_enqueued: Callable[[], None] | None,
        activity: IntakeActivity | None = None,
    ) -> None:
        self.activity = activity or IntakeActivity()
        self.database = services.database
        self.metrics = services.metrics
        self.settings = services.settings
        self.limit = services.settings.max_body_bytes
        self.writer = writer
        self.on_enqueued = on_enqueued

    def endpoint(self, source: Source) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            # No docstring: FastAPI would publish it as every route's description.
            started = time.perf_counter()
            self.activity.started()
            try:
                verified = await source.verify(request, self.settings, self.limit)
                with structlog.contextvars.bound_contextvars(**verified.log_context):
                    outcomes = await self.store(source.label, source.parse(verified))
                    return source.answer(self, source.label, outcomes, started)
            except IntakeError as error:
                return self.refuse(source.label, error, started)
            finally:
                self.activity.finished()

        return endpoint

    async def store(self, label: str, parsed: Sequence[ParsedEvent]) -> list[StoredEvent]:
        """Store the events (a duplicate delivery stores nothing) and wake the workers for new jobs."""
        storable = storable_events(parsed)
        try:
            outcomes = await self.writer.submit(storable)
        except SQLAlchemyError as exc:
            failure = await run_in_threadpool(diagnose, self.database, exc)
            outcome = "database_unavailable" if failure.status_code == 503 else "malformed"
            raise IntakeError(failure.status_code, failure.reason, outcome=outcome) from exc
        for stored in outcomes:
            self.metrics.events_stored.labels(label, stored.status).inc()
            log.info(
                "event_stored",
                source=label,
                delivery_id=stored.delivery_id,
                kind=f"{stored.event}.{stored.action}" if stored.action else stored.event,
                status=stored.status,
                event_id=stored.id,
            )
        if self.on_enqueued is not None and any(stored.handlers for stored in outcomes):
            self.on_enqueued()
        return outcomes

    def answer(self, label: str, outcomes: Sequence[StoredEvent], started: float) -> Response:
        status_code, outcome_label = webhook_outcome(outcomes)
        self._count(label, outcome_label, started)
        return JSONResponse(
            {"status": outcome_label, "events": [outcome.as_json() for outcome in outcomes]},
            status_code=status_code,
        )

    def answer_slack_command(self, label: str, outcomes: Sequence[StoredEvent], started: float) -> Response:
        return self._answer_slack(
            label, outcomes, started, {"response_type": "ephemeral", "text": SLACK_ACK_TEXT}
        )

    def answer_slack_interaction(
        self, label: str, outcomes: Sequence[StoredEvent], started: float
    ) -> Response:
        return self._answer_slack(label, outcomes, started, None)

    def _answer_slack(
        self, label: str, outcomes: Sequence[StoredEvent], started: float, body: Mapping[str, Any] | None
    ) -> Response:
        # Slack wants a 200 within 3 s; anything else shows the user an error.
        self._count(label, slack_outcome(outcomes), started)
        if body is None:
            return Response(status_code=200)
        return JSONResponse(dict(body), status_code=200)

    def refuse(self, label: str, error: IntakeError, started: float) -> Response:
        self._count(label, error.outcome, started)
        log.info("webhook_refused", source=label, status=error.status_code, reason=error.message)
        return JSONResponse({"error": error.message}, status_code=error.status_code)

    def _count(self, label: str, outcome_label: str, started: float) -> None:
        self.metrics.webhook_requests.labels(label, outcome_label).inc()
        self.metrics.webhook_latency.labels(label).observe(time.perf_counter() - started)
