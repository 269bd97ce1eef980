"""Storing accepted events and their jobs in one transaction, before the answer is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.events import ParsedEvent
from bot.queue import JobQueue
from bot.routing import Router
from bot.storage.models import Event, EventStatus
from bot.storage.types import utcnow


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


class EventStore:
    def __init__(self, queue: JobQueue, router: Router) -> None:
        self.queue = queue
        self.router = router
        self.database = queue.database

    def _insert(self) -> Any:
        return pg_insert if self.database.is_postgres else sqlite_insert

    def store(self, parsed: Sequence[ParsedEvent]) -> list[StoredEvent]:
        """Insert each event unless its (source, dedupe key) was seen, with one job per handler.

        The unique constraint decides what is a duplicate (``ON CONFLICT DO NOTHING``),
        so two replicas receiving the same redelivery at once still store it once.
        """
        outcomes: list[StoredEvent] = []
        now = utcnow()
        insert = self._insert()
        with self.database.transaction() as session:
            for item in parsed:
                handlers = [] if item.ignored_reason else self.router.handlers_for(*item.routing_key)
                reason = item.ignored_reason
                if not handlers and reason is None:
                    key = "/".join(part for part in item.routing_key if part)
                    reason = f"nothing in this bot acts on {key} events"
                status = EventStatus.QUEUED if handlers else EventStatus.IGNORED
                statement = (
                    insert(Event)
                    .values(
                        source=item.source,
                        event=item.event,
                        action=item.action,
                        delivery_id=item.delivery_id,
                        dedupe_key=item.dedupe_key,
                        status=status,
                        ignored_reason=reason,
                        received_at=now,
                        finished_at=None if handlers else now,
                        payload=dict(item.payload),
                        domain=item.domain.model_dump(mode="json") if item.domain is not None else None,
                    )
                    .on_conflict_do_nothing(index_elements=["source", "dedupe_key"])
                    .returning(Event.id)
                )
                event_id = session.execute(statement).scalar_one_or_none()
                if event_id is None:
                    outcomes.append(
                        StoredEvent(None, item.source, item.event, item.action, item.delivery_id, "duplicate")
                    )
                    continue
                for handler in handlers:
                    self.queue.enqueue(session, handler.name, event_id=event_id)
                outcomes.append(
                    StoredEvent(
                        event_id,
                        item.source,
                        item.event,
                        item.action,
                        item.delivery_id,
                        status.value,
                        tuple(handler.name for handler in handlers),
                        reason if not handlers else None,
                    )
                )
        return outcomes
