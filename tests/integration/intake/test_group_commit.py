"""Group commit: the requests waiting at one moment are written in one transaction, with one
insert for all their events and one for all their jobs. Each request still gets its own answer:
its events' ids, or "duplicate" for a key stored before or by an earlier request of the same
batch; one request that cannot be stored fails alone. Real database, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import Future

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.events import ParsedEvent, parse_registry
from bot.intake.storable import storable_events
from bot.intake.store import EventStore, GroupCommitWriter, StoredEvent
from bot.routing import Router
from bot.services import Services, build_services
from bot.settings import Settings
from bot.storage.models import Event, Job
from tests.support.botenv import distribution_push


def push(tag: str, delivery: str | None = None) -> list[ParsedEvent]:
    digest = "sha256:" + hashlib.sha256(tag.encode()).hexdigest()
    envelope = distribution_push("serving/chat-llm", tag, digest)
    if delivery is not None:
        envelope["events"][0]["id"] = delivery
    body = json.dumps(envelope).encode()
    return storable_events(parse_registry({"Content-Type": "application/json"}, body))


def two_handlers() -> Router:
    router = Router()
    for name in ("first", "second"):
        router.register("registry", "image", "pushed", name=name)(lambda _ctx: None)
    return router


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build_services(Settings(_env_file=None, database_url=database_url))
    try:
        yield built
    finally:
        built.close()


def counts(services: Services) -> tuple[int, int]:
    with services.database.sessions() as session:
        events = session.scalar(select(func.count()).select_from(Event))
        jobs = session.scalar(select(func.count()).select_from(Job))
    return int(events or 0), int(jobs or 0)


def test_a_batch_answers_each_request_and_stores_each_event_once(services: Services) -> None:
    store = EventStore(services.queue, two_handlers())
    (before,) = store.store(push("1.0.0", "d-0"))
    batch = [push("1.1.0", "d-1"), push("1.2.0", "d-2"), push("1.1.0", "d-1"), push("1.0.0", "d-0")]
    answers = store.store_batch(batch)
    statuses = [[stored.status for stored in answer] for answer in answers]
    assert statuses == [["queued"], ["queued"], ["duplicate"], ["duplicate"]]
    first, second = answers[0][0], answers[1][0]
    assert first.id is not None and second.id is not None and len({before.id, first.id, second.id}) == 3
    assert first.handlers == second.handlers == ("first", "second")
    assert [stored.id for stored in (answers[2][0], answers[3][0])] == [None, None]
    assert counts(services) == (3, 6)  # three events, two jobs each: none for a duplicate
    with services.database.sessions() as session:
        owners = sorted(session.scalars(select(Job.event_id).where(Job.event_id.in_([first.id, second.id]))))
    assert owners == sorted([first.id, first.id, second.id, second.id])


def test_a_request_that_cannot_be_stored_fails_alone(services: Services) -> None:
    store = EventStore(services.queue, two_handlers())
    good = push("2.0.0", "d-good")
    bad = [dataclasses.replace(push("2.1.0", "d-bad")[0], source=None)]  # NOT NULL refuses it
    with pytest.raises(SQLAlchemyError):
        store.store_batch([good, bad])
    assert counts(services) == (0, 0)  # one transaction: nothing of the batch was kept

    writer = GroupCommitWriter(store)
    try:
        # The batch as the writer thread takes it from its queue: it fails, then each request is
        # written again on its own.
        waiting: list[Future[list[StoredEvent]]] = [Future(), Future()]
        writer._commit([(bad, waiting[0]), (good, waiting[1])])
    finally:
        writer.close()
    assert isinstance(waiting[0].exception(), SQLAlchemyError)
    assert [stored.status for stored in waiting[1].result()] == ["queued"]
    assert counts(services) == (1, 2)


def pooled_backend_pids(services: Services) -> set[int]:
    """The server process behind each connection the engine's pool holds now."""
    pool = services.database.engine.pool
    connections = [services.database.engine.raw_connection() for _ in range(pool.checkedin())]
    try:
        return {connection.driver_connection.info.backend_pid for connection in connections}  # type: ignore[union-attr]
    finally:
        for connection in connections:
            connection.close()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_writer_stores_after_postgresql_drops_its_connections(
    database_url: str, services: Services
) -> None:
    """A PostgreSQL restart, or an idle-session timeout, ends the pool's connections without telling
    the bot. The next webhook must still be stored, not answered 503: the pool checks a connection
    before lending it (pre-ping), which is why the writer's transactions pay that round trip."""
    writer = GroupCommitWriter(EventStore(services.queue, two_handlers()))
    try:
        assert [s.status for s in asyncio.run(writer.submit(push("3.0.0")))] == ["queued"]
        pids = pooled_backend_pids(services)
        assert pids
        with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as admin:
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        after = asyncio.run(writer.submit(push("3.1.0")))
    finally:
        writer.close()
    assert [stored.status for stored in after] == ["queued"]
    assert counts(services) == (2, 4)
