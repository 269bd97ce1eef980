from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage.db import Database, migrate
from tests.support.databases import postgres_schema_url, sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database on SQLite and on PostgreSQL: storage tests run on both."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        migrate(url)
        yield url
    else:
        with postgres_schema_url() as url:
            migrate(url)
            yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """A migrated SQLite database, for end-to-end tests whose subject is not the storage."""
    url = sqlite_url(tmp_path)
    migrate(url)
    return url
