"""Migrations match the models, run twice without change, and go down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.cli import main
from bot.storage.db import Database, alembic_config, migrate
from bot.storage.models import Base


def test_schema_matches_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    assert database.schema_state().up_to_date


def test_migrate_is_idempotent_and_reversible(database_url: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GITOPS_BOT_DATABASE_URL", database_url)
    monkeypatch.chdir("/")  # no .env from the developer's checkout
    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0
    assert "revision" in capsys.readouterr().out
    command.downgrade(alembic_config(database_url), "base")
    database = Database(database_url)
    try:
        assert database.schema_state().current is None
        assert not database.schema_state().up_to_date
    finally:
        database.dispose()
    assert migrate(database_url).up_to_date
