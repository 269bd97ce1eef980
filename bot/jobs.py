"""What a handler receives: the stored event, its typed domain form, and the services."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import select

from bot.events import domain_event_from_json
from bot.events.model import DomainEvent
from bot.queue import ClaimedJob
from bot.services import Services
from bot.storage.models import Event


@dataclass(frozen=True)
class StoredEventView:
    id: int
    source: str
    event: str
    action: str | None
    delivery_id: str
    payload: Mapping[str, Any]
    domain: DomainEvent | None


def load_event(services: Services, event_id: int) -> StoredEventView | None:
    with services.database.reads() as session:
        row = session.execute(select(Event).where(Event.id == event_id)).scalar_one_or_none()
        if row is None:
            return None
        domain = domain_event_from_json(row.domain) if row.domain is not None else None
        return StoredEventView(
            id=row.id,
            source=row.source,
            event=row.event,
            action=row.action,
            delivery_id=row.delivery_id,
            payload=row.payload,
            domain=domain,
        )


@dataclass
class HandlerContext:
    services: Services
    job: ClaimedJob
    event: StoredEventView | None
    log: structlog.stdlib.BoundLogger
    # Set when the lease was lost or the job was cancelled; long handlers check it.
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def domain(self) -> DomainEvent | None:
        return self.event.domain if self.event is not None else None

    @property
    def payload(self) -> Mapping[str, Any]:
        return self.job.payload or {}
