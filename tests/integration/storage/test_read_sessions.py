"""Sessions that only read never wait for SQLite's write lock, nor hold it."""

from __future__ import annotations

import sqlite3
import threading

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.storage.db import Database
from bot.storage.models import Job


def _writer_holding_the_lock(database: Database) -> sqlite3.Connection:
    """Another connection in the middle of a write transaction (as the intake's writer is)."""
    path = make_url(database.url).database
    assert path
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_read_goes_on_while_another_connection_holds_the_write_lock(sqlite_database_url: str) -> None:
    database = Database(sqlite_database_url)
    holder = _writer_holding_the_lock(database)
    counted: list[int] = []
    try:

        def read() -> None:
            with database.reads() as session:
                counted.append(session.execute(select(func.count()).select_from(Job)).scalar_one())

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=5)  # a writing session would wait out the 10 s busy timeout here
        assert counted == [0], "the read waited for the write lock"
    finally:
        holder.rollback()
        holder.close()
        database.dispose()


def test_a_read_session_leaves_the_write_lock_free(sqlite_database_url: str) -> None:
    database = Database(sqlite_database_url)
    probe = sqlite3.connect(make_url(database.url).database or "", isolation_level=None, timeout=0)
    try:
        with database.reads() as session:
            session.execute(text("SELECT 1 FROM jobs")).all()  # the read transaction is open
            probe.execute("BEGIN IMMEDIATE")  # would raise "database is locked" under an immediate one
            probe.rollback()
        with database.sessions() as session:
            session.execute(text("SELECT 1 FROM jobs")).all()
            try:
                probe.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                assert "locked" in str(error)
            else:
                raise AssertionError("a session that may write did not take the write lock up front")
    finally:
        probe.close()
        database.dispose()


def test_read_sessions_work_on_both_databases(database: Database) -> None:
    with database.reads() as session:
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 0
