"""PostgreSQL tells the scheduler when an analysis changed, so its due check need not read every second

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

The leader's due-analysis check (``bot.deployments.due_check``) reads again only when the earliest
due time it saw comes or an analysis is written. On PostgreSQL a statement-level trigger on
``analyses`` sends ``NOTIFY gitops_bot_analyses`` for every statement that inserts or deletes one,
or updates its status or due time, in any process or replica; the job listener's connection hears
it. As with the jobs' trigger (0012), PostgreSQL delivers it at commit (never for a rolled-back
transaction), folds a transaction's identical notifications into one, and the payload is the
table's schema. SQLite has no notifications: there the check watches the file (nothing to migrate).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# bot.deployments.due_check.ANALYSES_CHANNEL (migrations never import the bot)
CHANNEL = "gitops_bot_analyses"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION gitops_bot_analyses_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER analyses_notify AFTER INSERT OR DELETE OR UPDATE OF status, next_run_at "
        "ON analyses FOR EACH STATEMENT EXECUTE FUNCTION gitops_bot_analyses_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS analyses_notify ON analyses")
    op.execute("DROP FUNCTION IF EXISTS gitops_bot_analyses_notify()")
