"""Storing accepted events and their jobs in one transaction, before the answer is sent.

The intake's hot path: every webhook waits here for its commit. Two things keep it fast
under load without weakening "stored before answered":

* statements are Core inserts built once, not ORM units of work per request;
* one writer thread does *group commit*: requests waiting at the same moment are written
  in one transaction, one insert for all their events and one for all their jobs (so a
  batch costs the same round trips as one request), and released together when it
  commits. One, on PostgreSQL too: while its transaction is out, the requests that arrive
  wait and go together in the next. More writers split those requests into smaller
  batches, so more transactions, more round trips, and more threads taking turns with the
  event loop for the interpreter lock (at 200 requests/s on PostgreSQL, four writers took
  a tenth more CPU than one and half as long again to answer; bench/README.md). On
  SQLite, which has one write lock, more writers would only sleep in its busy handler.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection

from bot.events import ParsedEvent
from bot.fast_json import Written
from bot.queue import JobOffer, JobQueue
from bot.routing import Router
from bot.storage.models import Event, EventStatus
from bot.storage.statements import insert_ignoring_conflicts
from bot.storage.types import utcnow

log = structlog.get_logger("gitops_bot.intake")

MAX_BATCH = 64


@dataclass(frozen=True)
class StoredEvent:
    id: int | None  # None for a duplicate
    source: str
    event: str
    action: str | None
    delivery_id: str
    status: str  # queued | ignored | duplicate
    handlers: tuple[str, ...] = ()
    ignored_reason: str | None = None

    @property
    def duplicate(self) -> bool:
        return self.status == "duplicate"

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "event": self.event,
            "action": self.action,
            "delivery_id": self.delivery_id,
            "status": self.status,
        }
        if self.ignored_reason:
            body["reason"] = self.ignored_reason
        return body


# An event's identity in the events table: (source, dedupe_key), its unique constraint.
_Key = tuple[str, str]


@dataclass(frozen=True)
class _Planned:
    """One event as it will be written: the handlers it queues, or why it is ignored."""

    item: ParsedEvent
    handlers: tuple[str, ...]
    status: EventStatus
    reason: str | None

    @property
    def key(self) -> _Key:
        return self.item.source, self.item.dedupe_key


class EventStore:
    def __init__(self, queue: JobQueue, router: Router) -> None:
        self.queue = queue
        self.router = router
        self.database = queue.database
        # The unique constraint decides what is a duplicate (ON CONFLICT DO NOTHING), so two
        # replicas receiving the same redelivery at once still store it once.
        # Each inserted row says which event it is: a skipped one returns nothing, and the order
        # of the rows a many-rows insert returns is not promised.
        self._insert_events = insert_ignoring_conflicts(
            self.database.dialect, Event, conflict=["source", "dedupe_key"]
        ).returning(Event.id, Event.source, Event.dedupe_key)

    def store(self, parsed: Sequence[ParsedEvent]) -> list[StoredEvent]:
        """Store one request's events in their own transaction."""
        return self.store_batch([parsed])[0]

    def store_batch(self, batch: Sequence[Sequence[ParsedEvent]]) -> list[list[StoredEvent]]:
        """Store several requests' events in one transaction (group commit): one insert for all
        their events and one for all their jobs, whatever the batch's size."""
        with self.database.engine.begin() as connection:
            return self._write(connection, batch)

    def _plan(self, item: ParsedEvent) -> _Planned:
        handlers = () if item.ignored_reason else self.router.handlers_for(*item.routing_key)
        reason = item.ignored_reason
        if not handlers and reason is None:
            key = "/".join(part for part in item.routing_key if part)
            reason = f"nothing in this bot acts on {key} events"
        status = EventStatus.QUEUED if handlers else EventStatus.IGNORED
        return _Planned(item, tuple(handler.name for handler in handlers), status, reason)

    def _write(
        self, connection: Connection, batch: Sequence[Sequence[ParsedEvent]]
    ) -> list[list[StoredEvent]]:
        now = utcnow()
        planned = [[self._plan(item) for item in parsed] for parsed in batch]
        every = [event for request in planned for event in request]
        stored_ids = self._insert(connection, [event_row(e.item, e.status, e.reason, now) for e in every])
        offers: list[JobOffer] = []
        claimed: set[_Key] = set()
        outcomes = [[_outcome(event, stored_ids, claimed, offers) for event in asked] for asked in planned]
        self.queue.offer_many(connection, offers, now=now)
        return outcomes

    def _insert(self, connection: Connection, rows: list[dict[str, Any]]) -> dict[_Key, int]:
        """The ids of the rows inserted, by (source, dedupe_key); a row whose key is taken has none."""
        if not rows:
            return {}
        # One row (most batches) skips SQLAlchemy's many-rows machinery, as JobQueue.offer_many does.
        inserted = connection.execute(self._insert_events, rows[0] if len(rows) == 1 else rows)
        return {(source, dedupe_key): event_id for event_id, source, dedupe_key in inserted}


def _outcome(
    event: _Planned, stored_ids: dict[_Key, int], claimed: set[_Key], offers: list[JobOffer]
) -> StoredEvent:
    """How ``event`` was stored; its jobs are added to ``offers``. A key taken before has no id;
    one an earlier event of the batch took is skipped by the same statement (the first is stored)."""
    item, event_id = event.item, stored_ids.get(event.key)
    if event_id is None or event.key in claimed:
        return StoredEvent(None, item.source, item.event, item.action, item.delivery_id, "duplicate")
    claimed.add(event.key)
    offers.extend(JobOffer(name, event_id=event_id) for name in event.handlers)
    reason = None if event.handlers else event.reason
    status = event.status.value
    return StoredEvent(
        event_id, item.source, item.event, item.action, item.delivery_id, status, event.handlers, reason
    )


def event_row(item: ParsedEvent, status: EventStatus, reason: str | None, now: datetime) -> dict[str, Any]:
    """Every column of the stored event: ignored events are finished on arrival."""
    return {
        "source": item.source,
        "event": item.event,
        "action": item.action,
        "delivery_id": item.delivery_id,
        "dedupe_key": item.dedupe_key,
        "status": status.value,
        "ignored_reason": reason,
        "error": None,
        "received_at": now,
        "finished_at": now if status == EventStatus.IGNORED else None,
        "payload": Written(item.payload_json) if item.payload_json is not None else dict(item.payload),
        "domain": item.domain.model_dump(mode="json") if item.domain is not None else None,
    }


_Request = tuple[Sequence[ParsedEvent], "Future[list[StoredEvent]]"]


class GroupCommitWriter:
    """A writer thread that commits whatever requests are waiting, together."""

    def __init__(self, store: EventStore, *, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="gitops-bot-intake-writer", daemon=True)
        self._thread.start()

    async def submit(self, parsed: Sequence[ParsedEvent]) -> list[StoredEvent]:
        future: Future[list[StoredEvent]] = Future()
        self._requests.put((parsed, future))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._requests.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._requests.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._requests.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Request]) -> None:
        try:
            results = self.store.store_batch([parsed for parsed, _ in batch])
        except Exception:
            if len(batch) == 1:
                parsed, future = batch[0]
                self._fail(future)
                return
            # One bad request must not fail the others: write them one by one.
            for parsed, future in batch:
                try:
                    future.set_result(self.store.store(parsed))
                except Exception:
                    self._fail(future)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)

    @staticmethod
    def _fail(future: Future[list[StoredEvent]]) -> None:
        import sys

        error = sys.exc_info()[1]
        log.exception("event_store_failed")
        future.set_exception(error if error is not None else RuntimeError("storing the event failed"))


def event_sink(queue: JobQueue, router: Router) -> Callable[[Sequence[ParsedEvent]], list[StoredEvent]]:
    """Stores events that do not come over HTTP (the local forge's) as the intake does: made
    storable, deduplicated, their jobs offered, in one transaction."""
    from bot.intake.storable import storable_events

    store = EventStore(queue, router)

    def sink(parsed: Sequence[ParsedEvent]) -> list[StoredEvent]:
        stored = store.store(storable_events(parsed))
        for item in stored:
            log.info("event_stored", source=item.source, kind=f"{item.event}.{item.action}", event_id=item.id)
        return stored

    return sink
