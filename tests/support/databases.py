"""Test databases: a migrated SQLite file, or a private schema on the local PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.requirements import require

POSTGRES_SERVER_URL = os.environ.get(
    "GITOPS_BOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'gitops-bot.db'}"


def postgres_reachable() -> bool:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_SERVER_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A fresh schema per test, so parallel runs never see each other's rows."""
    import psycopg

    require(postgres_reachable(), f"PostgreSQL at {POSTGRES_SERVER_URL}")
    schema = f"gitops_bot_test_{uuid.uuid4().hex[:12]}"
    plain = POSTGRES_SERVER_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_SERVER_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
