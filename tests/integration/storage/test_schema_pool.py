"""The PostgreSQL schemas the suite hands from test to test are as fresh as a new copy."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic import command
from sqlalchemy import func, select

from bot.storage.db import Database, alembic_config
from bot.storage.models import Event, Job
from tests.support.databases import SchemaPool, SchemaTemplate

pytestmark = pytest.mark.postgres


def _add_event_with_a_job(url: str, key: str) -> tuple[int, int]:
    database = Database(url)
    try:
        with database.transaction() as session:
            event = Event(
                source="github", event="push", delivery_id=key, dedupe_key=key, status="queued", payload={}
            )
            session.add(event)
            session.flush()
            job = Job(event_id=event.id, handler="h", status="queued", payload={})
            session.add(job)
            session.flush()
            return event.id, job.id
    finally:
        database.dispose()


def _up_to_date(url: str) -> bool:
    database = Database(url)
    try:
        return database.schema_state().up_to_date
    finally:
        database.dispose()


def _rows(url: str) -> int:
    database = Database(url)
    try:
        with database.transaction() as session:
            return sum(session.scalar(select(func.count()).select_from(model)) or 0 for model in (Event, Job))
    finally:
        database.dispose()


def test_a_schema_given_back_is_emptied_and_its_ids_start_again(
    postgres_template: SchemaTemplate | None,
) -> None:
    pool = SchemaPool(postgres_template)
    try:
        with pool.lease() as first:
            _add_event_with_a_job(first, "a")
            assert _add_event_with_a_job(first, "b") == (2, 2)
        with pool.lease() as second:
            assert second == first  # the same schema, handed on
            assert _rows(second) == 0
            assert _add_event_with_a_job(second, "a") == (1, 1)
            assert _up_to_date(second)
    finally:
        pool.close()


def _migrate_down(url: str) -> None:
    command.downgrade(alembic_config(url), "0002")


def _add_a_column(url: str) -> None:
    database = Database(url)
    try:
        with database.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE events ADD COLUMN note TEXT")
    finally:
        database.dispose()


@pytest.mark.parametrize("change", [_migrate_down, _add_a_column], ids=["migrated down", "column added"])
def test_a_schema_a_test_changed_is_dropped_not_handed_on(
    postgres_template: SchemaTemplate | None, change: Callable[[str], None]
) -> None:
    pool = SchemaPool(postgres_template)
    try:
        with pool.lease() as changed:
            change(changed)
        with pool.lease() as fresh:
            assert fresh != changed
            assert _up_to_date(fresh)
        with pool.lease() as again:
            assert again == fresh
    finally:
        pool.close()
    # Every schema the pool made is gone once it is closed.
    check = Database(changed)
    try:
        with check.engine.connect() as connection:
            names = connection.exec_driver_sql(
                "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%(names)s)",
                {"names": [url.rsplit("%3D", 1)[1] for url in (changed, fresh)]},
            ).all()
        assert names == []
    finally:
        check.dispose()
