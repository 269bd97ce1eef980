"""Drive one registered handler with a real webhook payload and a ``FakeForge``, bedevere-style.

A test takes a sample body from ``tests/payloads/``, changes what its case needs, and lets the
real parser (``bot.events``) normalise it; ``HandlerDriver.run`` stores the event as intake does,
loads it back as the worker does, and calls the handler registered under that name in
``handlers.default_router()`` (the names are stored in job rows, so they are part of the
contract). What the handler did is read from the fake's records, the audit log and the queue.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select

from bot.events import ParsedEvent, parse_alertmanager, parse_github, parse_mlflow, parse_registry
from bot.intake.store import EventStore
from bot.jobs import HandlerContext, StoredEventView, load_event
from bot.queue import ClaimedJob
from bot.routing import Router
from bot.services import Services
from bot.storage.models import Action, Job
from tests.support.fake_forge import FakeForge

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads"
REPO = "acme/gitops"  # the repository of every sample GitHub payload
INSTALLATION = 31415926  # and its App installation


def sample(relative: str) -> dict[str, Any]:
    """A fresh copy of a sample payload, free to change."""
    return copy.deepcopy(json.loads((PAYLOADS / relative).read_text(encoding="utf-8")))


def github(event: str, payload: Mapping[str, Any], *, delivery: str = "d-1") -> ParsedEvent:
    """What intake makes of a GitHub delivery of ``payload`` (signature already verified)."""
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json"}
    (parsed,) = parse_github(headers, json.dumps(payload).encode())
    return parsed


def comment(
    body: str, *, login: str = "bob", user_type: str = "User", comment_id: int | None = None
) -> ParsedEvent:
    """``issue_comment.created`` on pull request #42 of acme/gitops, saying ``body``. A comment is
    stored once per comment id (intake's dedupe key): give each comment of one test its own."""
    payload = sample("github/issue_comment.created.json")
    payload["comment"]["body"] = body
    if comment_id is not None:
        payload["comment"]["id"] = comment_id
    payload["comment"]["user"].update(login=login, type=user_type)
    payload["sender"].update(login=login, type=user_type)
    return github("issue_comment", payload)


def pull_request(relative: str = "github/pull_request.opened.json", **changes: Any) -> ParsedEvent:
    """A ``pull_request`` delivery; ``changes`` set fields of its ``pull_request`` object
    (``head_ref`` sets the head branch, ``action`` the delivery's action)."""
    payload = sample(relative)
    if "action" in changes:
        payload["action"] = changes.pop("action")
    if "head_ref" in changes:
        head = payload["pull_request"]["head"]
        head["ref"] = changes.pop("head_ref")
        head["label"] = f"acme:{head['ref']}"
    payload["pull_request"].update(changes)
    return github("pull_request", payload)


def alertmanager(relative: str = "alertmanager/firing.json") -> ParsedEvent:
    (parsed,) = parse_alertmanager(
        {"Content-Type": "application/json"}, json.dumps(sample(relative)).encode()
    )
    return parsed


def registry(relative: str = "registry/distribution.push.json") -> ParsedEvent:
    """A CNCF distribution notification (bearer token already verified)."""
    headers = {"Content-Type": "application/vnd.docker.distribution.events.v1+json"}
    (parsed,) = parse_registry(headers, json.dumps(sample(relative)).encode())
    return parsed


def mlflow(relative: str = "mlflow/model_version.created.json") -> ParsedEvent:
    """An MLflow model-registry webhook (signature already verified)."""
    headers = {"Content-Type": "application/json", "X-MLflow-Delivery-Id": "m-1"}
    (parsed,) = parse_mlflow(headers, json.dumps(sample(relative)).encode())
    return parsed


@dataclass
class HandlerDriver:
    services: Services
    forge: FakeForge
    router: Router

    def run(
        self, name: str, event: ParsedEvent | None = None, *, payload: Mapping[str, Any] | None = None
    ) -> None:
        """Run handler ``name`` for ``event`` (stored first) or a job ``payload``, in this thread."""
        handler = self.router.get(name)
        assert handler is not None, f"no handler is registered as {name!r}"
        stored = self._store(name, event) if event is not None else None
        ctx = HandlerContext(
            services=self.services,
            job=ClaimedJob(
                id=0,
                handler=name,
                event_id=stored.id if stored is not None else None,
                payload=dict(payload) if payload is not None else None,
                attempts=1,
                max_attempts=5,
                lease_owner="unit-test",
            ),
            event=stored,
            log=structlog.get_logger("tests.handlers").bind(handler=name),
        )
        outcome = handler.func(ctx)
        if inspect.isawaitable(outcome):
            asyncio.run(_awaited(outcome))

    def _store(self, name: str, event: ParsedEvent) -> StoredEventView:
        assert event.domain is not None, f"the parser ignored this event: {event.ignored_reason}"
        (stored,) = EventStore(self.services.queue, self.router).store([event])
        assert name in stored.handlers, f"{name} is not routed {event.routing_key}: {stored.handlers}"
        assert stored.id is not None
        view = load_event(self.services, stored.id)
        assert view is not None
        return view

    def actions(self, kind: str | None = None) -> list[Action]:
        """The audit log, oldest first."""
        with self.services.database.sessions() as session:
            query = select(Action).order_by(Action.id)
            if kind is not None:
                query = query.where(Action.kind == kind)
            rows = list(session.scalars(query))
            session.expunge_all()
        return rows

    def jobs(self, handler: str) -> list[Job]:
        with self.services.database.sessions() as session:
            rows = list(session.scalars(select(Job).where(Job.handler == handler).order_by(Job.id)))
            session.expunge_all()
        return rows


async def _awaited(outcome: Any) -> Any:
    return await outcome
