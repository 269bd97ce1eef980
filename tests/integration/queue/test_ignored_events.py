"""An event whose every job found nothing to do ends ``ignored`` with their reasons; one job that
acted (or was cancelled) makes it ``done``. Real database, real workers, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest
from sqlalchemy import select

from bot.events import parse_registry
from bot.intake.store import EventStore
from bot.reasons import Ignored
from bot.routing import Router
from bot.services import Services, build_services
from bot.settings import Settings
from bot.storage.models import Event, Job
from bot.worker import WorkerPool
from tests.support.botenv import distribution_push


def digest_of(tag: str) -> str:
    return "sha256:" + hashlib.sha256(tag.encode()).hexdigest()


def _router(*outcomes: Ignored | None) -> Router:
    """One handler per outcome for registry pushes, each returning its outcome (async and not)."""
    router = Router()
    for index, outcome in enumerate(outcomes):

        def handler(_ctx: object, outcome: Ignored | None = outcome) -> Ignored | None:
            return outcome

        async def async_handler(_ctx: object, outcome: Ignored | None = outcome) -> Ignored | None:
            return outcome

        func = async_handler if index % 2 else handler
        router.register("registry", "image", "pushed", name=f"h{index}")(func)
    return router


def _store_and_run(services: Services, router: Router, tag: str) -> Event:
    body = json.dumps(distribution_push("serving/chat-llm", tag, digest_of(tag))).encode()
    parsed = parse_registry({"Content-Type": "application/json"}, body)
    (stored,) = EventStore(services.queue, router).store(parsed)
    pool = WorkerPool(services, router, concurrency=1, name="test")
    while (job := services.queue.claim("test/0")) is not None:
        assert asyncio.run(pool.run_job(job)) == "done"
    with services.database.sessions() as session:
        event = session.get(Event, stored.id)
        assert event is not None
        session.expunge(event)
        return event


@pytest.fixture
def services(database_url: str):
    built = build_services(Settings(_env_file=None, database_url=database_url))
    yield built
    built.close()


def test_every_job_ignored_makes_the_event_ignored_with_each_reason_once(services: Services) -> None:
    router = _router(Ignored("no deployment's trigger matches serving/other"), Ignored("b"), Ignored("b"))
    event = _store_and_run(services, router, "1.0.0")
    assert event.status == "ignored"
    assert event.ignored_reason == "no deployment's trigger matches serving/other | b"
    assert event.finished_at is not None
    with services.database.sessions() as session:
        reasons = session.scalars(select(Job.ignored_reason).order_by(Job.id)).all()
    assert reasons == ["no deployment's trigger matches serving/other", "b", "b"]


def test_one_job_that_acted_makes_the_event_done(services: Services) -> None:
    event = _store_and_run(services, _router(Ignored("not mine"), None), "1.0.1")
    assert (event.status, event.ignored_reason) == ("done", None)


def test_a_cancelled_job_makes_the_event_done_not_ignored(services: Services) -> None:
    router = _router(Ignored("not mine"), Ignored("nor mine"))
    body = json.dumps(distribution_push("serving/chat-llm", "1.0.2", digest_of("1.0.2"))).encode()
    (stored,) = EventStore(services.queue, router).store(
        parse_registry({"Content-Type": "application/json"}, body)
    )
    with services.database.sessions() as session:
        second = session.scalars(select(Job.id).where(Job.handler == "h1")).one()
    services.queue.cancel([second], "cancelled by a person")
    pool = WorkerPool(services, router, concurrency=1, name="test")
    while (job := services.queue.claim("test/0")) is not None:
        asyncio.run(pool.run_job(job))
    with services.database.sessions() as session:
        event = session.get(Event, stored.id)
        assert event is not None
        assert (event.status, event.ignored_reason) == ("done", None)
