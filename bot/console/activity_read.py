"""The database reads behind ``/events`` and ``/actions``: filtered pages, newest first, and one
event with the jobs it made.

Every list walks its timestamp index newest first and stops after one page (keyset pagination,
:mod:`bot.pagination`), so a filter that matches little costs one bounded scan, not a count.
An event has no repository or deployment column: it matches ``repo`` when its parsed event names
that repository or an audit row it led to does, and ``deployment`` when an audit row it led to
targets that deployment (``chat-llm-prod`` or ``chat-llm-prod@1.4.0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_, select

from bot.console.activity_view import ActionFilters, EventFilters, split_kind
from bot.pagination import Cursor, PageRequest
from bot.storage.db import Database
from bot.storage.models import Action, Event, Job


@dataclass(frozen=True)
class EventRecord:
    """An event as the pages need it: its row (detached) and the jobs it made."""

    event: Event
    jobs: list[Job]


def _after(statement: Select[Any], column: Any, model: Any, page: PageRequest) -> Select[Any]:
    if page.after is None:
        return statement
    at, last_id = page.after.at, page.after.id
    return statement.where(or_(column < at, and_(column == at, model.id < last_id)))


def _targets(deployment: str) -> Any:
    return or_(Action.target == deployment, Action.target.startswith(f"{deployment}@", autoescape=True))


def _event_conditions(filters: EventFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.source:
        conditions.append(Event.source == filters.source)
    if filters.status:
        conditions.append(Event.status == filters.status)
    if filters.kind:
        event, action = split_kind(filters.kind)
        conditions.append(Event.event == event)
        if action is not None:
            conditions.append(Event.action == action)
    if filters.repo:
        by_action = select(Action.event_id).where(Action.repo == filters.repo, Action.event_id.is_not(None))
        conditions.append(or_(Event.domain["repo"].as_string() == filters.repo, Event.id.in_(by_action)))
    if filters.deployment:
        by_action = select(Action.event_id).where(_targets(filters.deployment), Action.event_id.is_not(None))
        conditions.append(Event.id.in_(by_action))
    return conditions


def _action_conditions(filters: ActionFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.kind:
        conditions.append(Action.kind == filters.kind)
    if filters.outcome:
        conditions.append(Action.outcome == filters.outcome)
    if filters.actor:
        conditions.append(Action.actor == filters.actor)
    if filters.repo:
        conditions.append(Action.repo == filters.repo)
    if filters.deployment:
        conditions.append(_targets(filters.deployment))
    return conditions


def _page(rows: list[Any], page: PageRequest, column: str) -> tuple[list[Any], Cursor | None]:
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return rows, Cursor(getattr(rows[-1], column), rows[-1].id) if more else None


def newest_events(
    database: Database, filters: EventFilters, page: PageRequest, *, with_jobs: bool
) -> tuple[list[EventRecord], Cursor | None]:
    """One page of events matching ``filters``; ``with_jobs``: each with its jobs (one query)."""
    statement = select(Event).where(*_event_conditions(filters))
    statement = _after(statement, Event.received_at, Event, page)
    statement = statement.order_by(Event.received_at.desc(), Event.id.desc()).limit(page.limit + 1)
    with database.reads() as session:
        rows, last = _page(list(session.scalars(statement)), page, "received_at")
        jobs: dict[int, list[Job]] = {row.id: [] for row in rows}
        if with_jobs and rows:
            found = session.scalars(select(Job).where(Job.event_id.in_(list(jobs))).order_by(Job.id))
            for job in found:
                jobs[job.event_id or 0].append(job)
        session.expunge_all()
    return [EventRecord(row, jobs[row.id]) for row in rows], last


def event_record(database: Database, event_id: int) -> EventRecord | None:
    """One event and its jobs, or None."""
    with database.reads() as session:
        row = session.get(Event, event_id)
        if row is None:
            return None
        jobs = list(session.scalars(select(Job).where(Job.event_id == event_id).order_by(Job.id)))
        session.expunge_all()
    return EventRecord(row, jobs)


def actions_of_event(database: Database, event_id: int) -> list[Action]:
    """What the bot did about one event, in order."""
    with database.reads() as session:
        rows = list(session.scalars(select(Action).where(Action.event_id == event_id).order_by(Action.id)))
        session.expunge_all()
    return rows


def newest_actions(
    database: Database, filters: ActionFilters, page: PageRequest
) -> tuple[list[Action], Cursor | None]:
    """One page of audit rows matching ``filters``, newest first."""
    statement = select(Action).where(*_action_conditions(filters))
    statement = _after(statement, Action.at, Action, page)
    statement = statement.order_by(Action.at.desc(), Action.id.desc()).limit(page.limit + 1)
    with database.reads() as session:
        rows, last = _page(list(session.scalars(statement)), page, "at")
        session.expunge_all()
    return rows, last


def audit_kinds(database: Database) -> list[str]:
    """The audit kinds recorded so far, for the filter's suggestions (audit rows are small; the
    events table is not scanned for this: its rows carry whole payloads)."""
    with database.reads() as session:
        return sorted(session.scalars(select(Action.kind).distinct()).all())
