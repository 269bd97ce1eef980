"""PostgreSQL tells idle workers about new jobs (LISTEN/NOTIFY) instead of their polling

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

A statement-level trigger on ``jobs`` sends ``NOTIFY gitops_bot_jobs`` once per inserting
statement. PostgreSQL delivers it when the transaction commits (never for a rolled-back one)
and folds identical notifications of one transaction into one, so the intake's insert costs
no extra round trip. The payload is the schema of the jobs table: bots sharing one database in
schemas of their own each hear only their own jobs. SQLite has no notifications: there the
workers poll (nothing to migrate).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "gitops_bot_jobs"  # bot.queue_notifications.CHANNEL (migrations never import the bot)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION gitops_bot_jobs_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER jobs_notify AFTER INSERT ON jobs "
        "FOR EACH STATEMENT EXECUTE FUNCTION gitops_bot_jobs_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS jobs_notify ON jobs")
    op.execute("DROP FUNCTION IF EXISTS gitops_bot_jobs_notify()")
