"""A bot with every default handler, a migrated SQLite database and a FakeForge; no network, no git."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.services import build_services
from bot.settings import Settings
from handlers import default_router
from tests.support.databases import copy_sqlite
from tests.support.fake_forge import install_fake_forge
from tests.unit.handlers.driver import INSTALLATION, REPO, HandlerDriver

MakeDriver = Callable[..., HandlerDriver]


@pytest.fixture
def handler_database_url(migrated_sqlite_file: Path, tmp_path: Path) -> str:
    """Like ``sqlite_database_url`` (tests/conftest.py): a migrated SQLite database of this test's own."""
    return copy_sqlite(migrated_sqlite_file, tmp_path)


@pytest.fixture
def make_driver(handler_database_url: str, tmp_path: Path) -> Iterator[MakeDriver]:
    """``make_driver(config=..., dry_run=..., **settings)``: the bot with acme/gitops on the fake
    forge, holding ``config`` as its ``.gitops-bot.yaml`` (none when ``config`` is None)."""
    built: list[HandlerDriver] = []

    def make(*, config: str | None = None, dry_run: bool = False, **settings: Any) -> HandlerDriver:
        values: dict[str, Any] = {
            "database_url": handler_database_url,
            "github_token": "fake-token",  # credentials, so not dry-run unless asked
            "dry_run": dry_run,
            "data_dir": tmp_path / "data",
            "github_seconds_between_writes": 0.0,
        }
        values.update(settings)
        services = build_services(Settings(_env_file=None, **values))
        forge = install_fake_forge(services, installations={REPO: INSTALLATION})
        forge.add_repo(REPO, {".gitops-bot.yaml": config} if config is not None else {})
        driver = HandlerDriver(services, forge, default_router())
        built.append(driver)
        return driver

    yield make
    for driver in built:
        driver.services.close()
    # Nothing here may need git: a branch that did would have built the git workspaces.
    assert all(driver.services.git_workspaces is None for driver in built), "a handler reached for git"


@pytest.fixture
def driver(make_driver: MakeDriver) -> HandlerDriver:
    """The live bot (not dry-run) with no ``.gitops-bot.yaml`` in acme/gitops."""
    return make_driver()
