"""Engine set-up for SQLite and PostgreSQL, and the schema-version check behind /readyz."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from bot import fast_json
from bot.shipped import MIGRATIONS, shipped_directory

if TYPE_CHECKING:
    from alembic.config import Config

SQLITE_BUSY_TIMEOUT_MS = 10_000


def migrations_directory() -> Path:
    """Where Alembic finds env.py and versions/ (installed, or in a source checkout)."""
    return shipped_directory(MIGRATIONS)


def alembic_config(database_url: str) -> Config:
    """Alembic configuration built in code, so `gitops-bot migrate` needs no ini file."""
    # Alembic is imported where it is used: it takes a fifth of a second, which a command that
    # never looks at the schema (`gitops-bot --help`, `pr list`) should not pay.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_directory()))
    # ConfigParser treats % as interpolation; URLs may contain %-escapes.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front. A deferred transaction that reads and
        # then writes fails at once with SQLITE_BUSY when another writer committed in
        # between (the busy timeout does not apply to that upgrade), so every transaction
        # that may write is immediate and simply waits its turn. Sessions from
        # ``Database.reads`` never write: theirs are deferred, so in WAL mode they read a
        # snapshot without taking the write lock, and neither wait for writers nor hold them up.
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


# Execution option that marks the engine behind ``Database.reads``.
_READ_ONLY = "gitops_bot_read_only"


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str | None

    @property
    def up_to_date(self) -> bool:
        return self.current is not None and self.current == self.head


class Database:
    """The engine and session factory for one app; nothing module-global."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        # JSON columns hold webhook payloads of tens of KB: orjson writes and reads them where
        # its value is json's (the text is compact UTF-8; what it would change goes to json).
        kwargs: dict[str, Any] = {
            "echo": echo,
            "future": True,
            "json_serializer": fast_json.dumps,
            "json_deserializer": fast_json.loads,
        }
        if self.dialect == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            # Pre-ping costs a round trip per transaction, and buys this: after PostgreSQL restarts
            # (or ends idle sessions) the next webhook is still stored, not answered 503, since
            # the pool replaces a dead connection before lending it (test_group_commit.py).
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.engine: Engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        # For code that only reads (console pages, a job loading its event, the workers'
        # look-up of the next due job): on SQLite its transactions never take the write lock.
        # A session from here must not write.
        self.reads: sessionmaker[Session] = sessionmaker(
            self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False
        )
        self._local_locks: dict[str, threading.Lock] = {}
        self._local_locks_guard = threading.Lock()

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def change_token(self) -> tuple[int, ...] | None:
        """Something that changes whenever any process writes to this SQLite file (the sizes and
        modification times of the file and its write-ahead log), read without a query; None on
        PostgreSQL or in memory. Lets an idle poller skip reading a database nobody wrote to."""
        if self.dialect != "sqlite":
            return None
        database = make_url(self.url).database
        if not database or database == ":memory:":
            return None
        token: list[int] = []
        for path in (database, f"{database}-wal"):
            try:
                status = os.stat(path)
            except OSError:
                token += [-1, -1]
                continue
            token += [status.st_size, status.st_mtime_ns]
        return tuple(token)

    @contextmanager
    def serialized(self, key: str) -> Iterator[None]:
        """Run the block while no other process or thread runs a block with the same ``key``.

        PostgreSQL: a session advisory lock on a connection of its own (in autocommit, so no
        transaction stays open while the block does slow work); the server releases it if the
        process dies. SQLite (one process): a lock per key in this ``Database``.
        """
        if not self.is_postgres:
            with self._local_locks_guard:
                lock = self._local_locks.setdefault(key, threading.Lock())
            with lock:
                yield
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            try:
                yield
            finally:
                connection.exec_driver_sql("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        with self.sessions.begin() as session:
            yield session

    def schema_state(self) -> SchemaState:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config(self.url)).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return SchemaState(current=current, head=head)

    def dispose(self) -> None:
        self.engine.dispose()


# pg_advisory_lock key held while migrating (any constant; "gitops-b" as an integer).
_MIGRATION_LOCK_KEY = 0x6769746F70732D62


def migrate(database_url: str, revision: str = "head") -> SchemaState:
    """Apply migrations; running it again on an up-to-date database changes nothing."""
    from alembic import command

    database = Database(database_url)
    if database.is_postgres:
        # Replicas starting together (one init container each) migrate one after the other;
        # the later ones find the schema at head and change nothing.
        with database.engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({_MIGRATION_LOCK_KEY})")
            try:
                command.upgrade(alembic_config(database_url), revision)
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK_KEY})")
    else:
        command.upgrade(alembic_config(database_url), revision)
    try:
        return database.schema_state()
    finally:
        database.dispose()
