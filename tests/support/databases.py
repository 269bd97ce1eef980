"""Test databases: a migrated SQLite file, or a private schema on the local PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


def _create_schema(connection: Any, template: SchemaTemplate | None) -> str:
    """A new schema, under a name no other test uses: a copy of ``template``, else empty."""
    schema = f"gitops_bot_test_{uuid.uuid4().hex[:12]}"
    if template is None:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    else:
        template.create(connection, schema)
    return schema


@contextmanager
def _schema(template: SchemaTemplate | None = None) -> Iterator[str]:
    """A new schema's name, dropped on exit."""
    import psycopg

    with psycopg.connect(_plain(), autocommit=True) as connection:
        schema = _create_schema(connection, template)
    try:
        yield schema
    finally:
        with psycopg.connect(_plain(), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


# Every catalog row of a schema's tables, columns, defaults, constraints, indexes and triggers,
# by its object id and the transaction that wrote it, and the revision it is at. Any change to
# the schema (a migration down and up again, a column added) writes new rows; deleting rows,
# restarting sequences and the statistics autovacuum keeps (updated in place) do not.
_FINGERPRINT = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s),
rel AS (SELECT c.oid, c.xmin FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM ns))
SELECT md5(concat_ws('|', (SELECT string_agg(part, ',' ORDER BY part) FROM (
    SELECT 'c' || oid || ':' || xmin AS part FROM rel
    UNION ALL SELECT 'a' || a.attrelid || '.' || a.attnum || ':' || a.xmin
      FROM pg_attribute a WHERE a.attrelid IN (SELECT oid FROM rel)
    UNION ALL SELECT 'd' || d.oid || ':' || d.xmin FROM pg_attrdef d WHERE d.adrelid IN (SELECT oid FROM rel)
    UNION ALL SELECT 'k' || k.oid || ':' || k.xmin FROM pg_constraint k
      WHERE k.connamespace = (SELECT oid FROM ns)
    UNION ALL SELECT 'i' || i.indexrelid || ':' || i.xmin FROM pg_index i
      WHERE i.indrelid IN (SELECT oid FROM rel)
    UNION ALL SELECT 't' || g.oid || ':' || g.xmin FROM pg_trigger g WHERE g.tgrelid IN (SELECT oid FROM rel)
  ) AS parts),
  (SELECT string_agg(version_num, ',') FROM {schema}.alembic_version)))
"""
_RESTART_SEQUENCES = """
SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'S' AND n.nspname = %(schema)s
"""


class SchemaPool:
    """Migrated schemas for one test process, each handed to one test at a time.

    Creating a schema from the template and dropping it costs PostgreSQL about 70 ms of CPU on
    fresh catalogs, and more as they fill with the rows of dropped schemas (140 ms after a few
    runs on a server without autovacuum), and the suite's PostgreSQL tests made some 350 of them.
    A schema a test gave back is emptied instead (every table's rows deleted, children first,
    its sequences restarted: about 5 ms) and handed to the next test, which finds it as a fresh
    copy would be. One a test changed (migrated down, a table altered: its fingerprint differs),
    or that cannot be emptied (a lock still held), is dropped and replaced by a new copy. The
    pool's schemas are dropped when the test process ends.
    """

    def __init__(self, template: SchemaTemplate | None) -> None:
        import psycopg

        from bot.storage.models import Base

        require(postgres_reachable(), f"PostgreSQL at {POSTGRES_SERVER_URL}")
        self._template = template
        self._tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
        self._connection = psycopg.connect(_plain(), autocommit=True)
        # A test that left a transaction open must not stall the next one's emptying forever.
        self._connection.execute("SET lock_timeout = '5s'")
        self._free: list[str] = []
        self._fingerprints: dict[str, str | None] = {}  # each schema's, as it was made

    @contextmanager
    def lease(self) -> Iterator[str]:
        """A migrated schema's URL, empty as a fresh copy, for the length of the block."""
        schema = self._free.pop() if self._free else self._create()
        try:
            yield schema_url(schema)
        finally:
            if self._emptied(schema):
                self._free.append(schema)
            else:
                self._drop(schema)

    def close(self) -> None:
        for schema in self._free:
            self._drop(schema)
        self._free.clear()
        self._connection.close()

    def _create(self) -> str:
        schema = _create_schema(self._connection, self._template)
        if self._template is None:
            from bot.storage.db import migrate

            migrate(schema_url(schema))
        self._fingerprints[schema] = self._fingerprint_of(schema)
        return schema

    def _fingerprint_of(self, schema: str) -> str | None:
        import psycopg

        try:
            row = self._connection.execute(
                _FINGERPRINT.replace("{schema}", f'"{schema}"'), {"schema": schema}
            ).fetchone()
        except psycopg.Error:
            return None  # no alembic_version: certainly not as it was made
        return None if row is None else str(row[0])

    def _emptied(self, schema: str) -> bool:
        import psycopg

        made = self._fingerprints.get(schema)
        if made is None or self._fingerprint_of(schema) != made:
            return False
        try:
            with self._connection.transaction():
                for table in self._tables:
                    self._connection.execute(f'DELETE FROM "{schema}"."{table}"')
                self._connection.execute(_RESTART_SEQUENCES, {"schema": schema})
        except psycopg.Error:
            return False
        return True

    def _drop(self, schema: str) -> None:
        import psycopg

        self._fingerprints.pop(schema, None)
        # Still locked by something the test left behind: a schema left over costs disk, not
        # correctness (its name is never used again).
        with suppress(psycopg.Error):
            self._connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
