"""The dialect-aware ``INSERT … ON CONFLICT`` helpers, compiled for each database (no I/O)."""

from __future__ import annotations

import pytest
from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from bot.storage.models import Job, Lock, SchedulerLease
from bot.storage.statements import Target, insert_ignoring_conflicts, upsert

DIALECTS: dict[str, Dialect] = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}
LOCK_KEY = ["repo", "dir", "workspace", "project"]


def sql(statement: Insert, dialect: str) -> str:
    return " ".join(str(statement.compile(dialect=DIALECTS[dialect])).split())


@pytest.mark.parametrize(
    ("dialect", "target", "conflict", "expected"),
    [
        ("sqlite", Job, ["dedupe_key"], "ON CONFLICT (dedupe_key) DO NOTHING"),
        ("postgresql", Job, ["dedupe_key"], "ON CONFLICT (dedupe_key) DO NOTHING"),
        ("sqlite", Lock.__table__, LOCK_KEY, "ON CONFLICT (repo, dir, workspace, project) DO NOTHING"),
        ("postgresql", Lock, LOCK_KEY, "ON CONFLICT (repo, dir, workspace, project) DO NOTHING"),
    ],
)
def test_insert_ignoring_conflicts(dialect: str, target: Target, conflict: list[str], expected: str) -> None:
    statement = insert_ignoring_conflicts(dialect, target, conflict=conflict)
    assert sql(statement, dialect).endswith(expected)


@pytest.mark.parametrize(
    ("dialect", "where", "expected"),
    [
        ("sqlite", False, "ON CONFLICT (name) DO UPDATE SET holder = ? RETURNING holder"),
        (
            "sqlite",
            True,
            "ON CONFLICT (name) DO UPDATE SET holder = ? WHERE scheduler_leases.holder = ? RETURNING holder",
        ),
        (
            "postgresql",
            False,
            "ON CONFLICT (name) DO UPDATE SET holder = %(param_1)s::VARCHAR "
            "RETURNING scheduler_leases.holder",
        ),
        (
            "postgresql",
            True,
            "ON CONFLICT (name) DO UPDATE SET holder = %(param_1)s::VARCHAR "
            "WHERE scheduler_leases.holder = %(holder_1)s::VARCHAR RETURNING scheduler_leases.holder",
        ),
    ],
)
def test_upsert_updates_only_where_allowed(dialect: str, where: bool, expected: str) -> None:
    statement = (
        upsert(
            dialect,
            SchedulerLease,
            conflict=["name"],
            update={"holder": "me"},
            where=SchedulerLease.holder == "me" if where else None,
        )
        .values(name="scheduler", holder="me")
        .returning(SchedulerLease.holder)
    )
    assert sql(statement, dialect).endswith(expected)


def test_an_unsupported_database_is_named() -> None:
    with pytest.raises(ValueError, match="'mysql' database"):
        insert_ignoring_conflicts("mysql", Job, conflict=["dedupe_key"])
