"""``INSERT … ON CONFLICT`` for the two databases the bot runs on, written once.

SQLAlchemy's generic ``insert()`` has no ``ON CONFLICT`` clause: each dialect has its own
``Insert`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update``, same arguments on both.
These helpers pick the dialect's statement, so stores say what they want (insert unless
taken; insert or update) instead of branching on the database everywhere.

They build statements and run nothing: callers execute them in their own transaction, and
may add ``.values(...)`` or ``.returning(...)`` like on any insert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.dml import Insert

Target = Table | type[DeclarativeBase]

_DIALECT_INSERTS: Mapping[str, Callable[[Target], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


def dialect_insert(dialect: str, target: Target) -> postgresql.Insert | sqlite.Insert:
    """The insert of ``dialect`` (``Database.dialect``), the one that knows ``ON CONFLICT``."""
    try:
        make = _DIALECT_INSERTS[dialect]
    except KeyError:
        supported = ", ".join(sorted(_DIALECT_INSERTS))
        raise ValueError(
            f"no ON CONFLICT insert for the {dialect!r} database (supported: {supported})"
        ) from None
    return make(target)


def insert_ignoring_conflicts(dialect: str, target: Target, *, conflict: Sequence[str]) -> Insert:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING``: a row whose key is taken is skipped.

    The unique constraint on ``conflict`` decides, not a read-then-write check, so two
    processes inserting the same key at once store it once.
    """
    return dialect_insert(dialect, target).on_conflict_do_nothing(index_elements=list(conflict))


def upsert(
    dialect: str,
    target: Target,
    *,
    conflict: Sequence[str],
    update: Mapping[str, Any],
    where: ColumnElement[bool] | None = None,
) -> Insert:
    """``INSERT … ON CONFLICT (conflict) DO UPDATE SET update [WHERE where]``.

    With ``where``, a conflicting row that does not match it is left alone (and returns
    nothing with ``.returning``): how a lease is taken only when free or already ours.
    """
    return dialect_insert(dialect, target).on_conflict_do_update(
        index_elements=list(conflict), set_=dict(update), where=where
    )
