"""Turning a failed database call into an answer that says why, instead of a bare 500.

A webhook or an API read that fails on the database is either the database being away
(unreachable, wrong URL, not migrated: 503, the sender retries later) or, with the
database healthy, this one request being refused by it (400). The diagnosis asks the
database the same question ``/readyz`` asks.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import DataError, DBAPIError, SQLAlchemyError

from bot.storage.db import Database


@dataclass(frozen=True)
class DatabaseFailure:
    status_code: int  # 503: the database is away; 400: it refused this request's data
    reason: str


def short_error(error: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's statement and parameters (they may hold payloads)."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


@dataclass(frozen=True)
class Readiness:
    """The answer ``/readyz`` gives about the database, and the reason every other route uses."""

    problem: str | None  # None: reachable and migrated
    current: str | None = None  # the schema revisions, when they could be read
    head: str | None = None


def database_readiness(database: Database) -> Readiness:
    """Whether the database can serve requests now, and why not (does I/O: call it off the loop)."""
    try:
        state = database.schema_state()
    except Exception as exc:  # any failure to connect or read the version table means "away"
        return Readiness(f"database unreachable: {short_error(exc)}")
    if not state.up_to_date:
        return Readiness("database schema is behind: run `gitops-bot migrate`", state.current, state.head)
    return Readiness(None, state.current, state.head)


def diagnose(database: Database, error: SQLAlchemyError) -> DatabaseFailure:
    """What to answer for ``error``, raised by a request's database work. Does I/O: call it off the loop."""
    problem = database_readiness(database).problem
    if problem is not None:
        return DatabaseFailure(503, problem)
    if isinstance(error, DataError):
        return DatabaseFailure(400, f"the database refused this request's data: {short_error(error)}")
    # Healthy again by now, or a transient failure (lock timeout, failover): worth a retry.
    return DatabaseFailure(503, f"database error, try again: {short_error(error)}")
