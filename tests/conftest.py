from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage.db import Database, migrate
from tests.support.databases import (
    SQLITE_FILE,
    SchemaPool,
    SchemaTemplate,
    copy_sqlite,
    postgres_schema_template,
    sqlite_url,
)
from tests.support.scheduling import CpuMeter, DurationRecorder, load_durations, module_of, xdist_order


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--write-durations",
        action="store_true",
        help="record each test module's wall and CPU seconds in tests/durations.json (xdist's order)",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, each worker's slice of the suite from its slowest modules to its
    fastest, the modules that mostly wait spread out (tests/support/scheduling.py); one process
    keeps the collection order."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        pairs = [(module_of(item.nodeid), item) for item in items]
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ordered = xdist_order(pairs, workers, load_durations(), cores=cores)
        items[:] = [item for _, item in ordered]


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("--write-durations"):
        return
    worker = hasattr(config, "workerinput")
    # CPU is measured where tests run: in each xdist worker, or in the one process.
    if worker or not config.getoption("numprocesses", None):
        config.pluginmanager.register(CpuMeter(), "gitops-bot-cpu")
    # Recorded where every report arrives: in the one process, or in xdist's controller.
    if not worker:
        config.pluginmanager.register(DurationRecorder(), "gitops-bot-durations")


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated once per test process: each test gets a copy (a copy takes
    milliseconds, running the migrations a tenth of a second)."""
    directory = tmp_path_factory.mktemp("sqlite-template")
    migrate(sqlite_url(directory))
    # Every connection is closed, so the write-ahead log is folded into the file and removed.
    assert [path.name for path in directory.iterdir()] == [SQLITE_FILE], list(directory.iterdir())
    return directory / SQLITE_FILE


@pytest.fixture(scope="session")
def postgres_template() -> SchemaTemplate | None:
    """A migrated PostgreSQL schema dumped once per test process (None: migrate each schema)."""
    return postgres_schema_template()


@pytest.fixture(scope="session")
def postgres_schemas(postgres_template: SchemaTemplate | None) -> Iterator[SchemaPool]:
    """Migrated PostgreSQL schemas, one per test at a time, emptied between tests."""
    pool = SchemaPool(postgres_template)
    yield pool
    pool.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite_file: Path) -> Iterator[str]:
    """A migrated database on SQLite and on PostgreSQL: storage tests run on both."""
    if request.param == "sqlite":
        yield copy_sqlite(migrated_sqlite_file, tmp_path)
    else:
        with request.getfixturevalue("postgres_schemas").lease() as url:
            yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_database_url(tmp_path: Path, migrated_sqlite_file: Path) -> str:
    """A migrated SQLite database, for end-to-end tests whose subject is not the storage."""
    return copy_sqlite(migrated_sqlite_file, tmp_path)
