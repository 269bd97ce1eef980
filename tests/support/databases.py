"""Test databases: a migrated SQLite file, or a private schema on the local PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.requirements import require

POSTGRES_SERVER_URL = os.environ.get(
    "GITOPS_BOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


SQLITE_FILE = "gitops-bot.db"


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / SQLITE_FILE}"


def copy_sqlite(template: Path, directory: Path) -> str:
    """A migrated SQLite database in ``directory``: a copy of the ``template`` file."""
    shutil.copyfile(template, directory / SQLITE_FILE)
    return sqlite_url(directory)


def postgres_reachable() -> bool:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_SERVER_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def schema_url(schema: str) -> str:
    """The bot's database URL for ``schema`` on the test server (its search path)."""
    return f"{POSTGRES_SERVER_URL}?options=-csearch_path%3D{schema}"


@dataclass(frozen=True)
class SchemaTemplate:
    """A migrated schema as SQL (``pg_dump``), its schema name to be replaced by each copy's own."""

    schema: str
    sql: str

    def create(self, connection: Any, schema: str) -> None:
        connection.execute(self.sql.replace(self.schema, schema))


def postgres_schema_template() -> SchemaTemplate | None:
    """Migrate a schema once and dump it, so each test's schema is a copy made in milliseconds
    (running the migrations takes a tenth of a second). None without ``pg_dump`` or when it
    cannot dump this server: then every schema is migrated."""
    from bot.storage.db import migrate

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None or not postgres_reachable():
        return None
    with _schema() as schema:
        migrate(schema_url(schema))
        dumped = subprocess.run(
            [pg_dump, "--schema", schema, "--no-owner", "--no-privileges", "--inserts", "--dbname", _plain()],
            capture_output=True,
            text=True,
            timeout=60,
        )
    if dumped.returncode != 0 or schema not in dumped.stdout:
        return None
    # psql's meta-commands (the \restrict pair newer pg_dump writes) are not SQL.
    sql = "\n".join(line for line in dumped.stdout.splitlines() if not line.startswith("\\"))
    return SchemaTemplate(schema, sql)


def _plain() -> str:
    return POSTGRES_SERVER_URL.replace("+psycopg", "")


@contextmanager
def postgres_schema_url(template: SchemaTemplate | None = None) -> Iterator[str]:
    """A fresh schema per test, so parallel runs never see each other's rows; a copy of
    ``template`` when given (migrated), else empty."""
    require(postgres_reachable(), f"PostgreSQL at {POSTGRES_SERVER_URL}")
    with _schema(template) as schema:
        yield schema_url(schema)


@contextmanager
def _schema(template: SchemaTemplate | None = None) -> Iterator[str]:
    """A new schema's name, dropped on exit."""
    import psycopg

    schema = f"gitops_bot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_plain(), autocommit=True) as connection:
        if template is None:
            connection.execute(f'CREATE SCHEMA "{schema}"')
        else:
            template.create(connection, schema)
    try:
        yield schema
    finally:
        with psycopg.connect(_plain(), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def migrated_postgres_url(template: SchemaTemplate | None) -> Iterator[str]:
    """A fresh schema at the head revision: a copy of ``template``, or migrated when there is none."""
    with postgres_schema_url(template) as url:
        if template is None:
            from bot.storage.db import migrate

            migrate(url)
        yield url
