"""Revision 0003 moves plan files into the database: plans saved before it keep their rows and
read as plans without a stored file (apply says "plan again"); it goes down and up again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from bot.storage.db import Database, alembic_config, migrate
from bot.terraform.store import PlanStore

INSERT_OLD_PLAN = """
INSERT INTO plans (repo, pr_number, dir, workspace, project, head_sha, base_sha, status, planfile,
                   summary, output, requested_by, created_at, updated_at)
VALUES ('acme/infra', 4, 'terraform/staging', 'default', 'staging', :head, :base, 'planned',
        '/var/lib/gitops-bot/plans/0123.tfplan', NULL, 'output', 'dev', :now, :now)
"""


def test_plans_saved_on_disk_before_the_revision_must_be_made_again(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "0002")
    database = Database(database_url)
    try:
        with database.transaction() as session:
            session.execute(
                text(INSERT_OLD_PLAN), {"head": "h" * 40, "base": "b" * 40, "now": "2026-11-30 12:00:00"}
            )
    finally:
        database.dispose()
    assert migrate(database_url).up_to_date
    database = Database(database_url)
    try:
        (plan,) = PlanStore(database, ttl_seconds=60).for_pull("acme/infra", 4)
        assert (plan.status, plan.head_sha, plan.has_planfile, plan.expired) == (
            "planned",
            "h" * 40,
            False,
            False,
        )
        assert not plan.facts.has_planfile  # the gate: "its last plan failed: run plan again"
    finally:
        database.dispose()
    command.downgrade(alembic_config(database_url), "0002")
    assert migrate(database_url).up_to_date
