"""terraform runs: each project's plan and apply with its output lines, for the console

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "terraform_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("repo", sa.String(length=255), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=False),
        sa.Column("pr_url", sa.String(length=1024), nullable=True),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("dir", sa.String(length=1024), nullable=False),
        sa.Column("workspace", sa.String(length=255), nullable=False),
        sa.Column("command", sa.String(length=16), nullable=False),
        sa.Column("head_sha", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("headline", sa.Text(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_terraform_runs_pull", "terraform_runs", ["repo", "pr_number"])
    op.create_index("ix_terraform_runs_started_at", "terraform_runs", ["started_at"])
    op.create_table(
        "terraform_run_lines",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["terraform_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("terraform_run_lines")
    op.drop_index("ix_terraform_runs_started_at", table_name="terraform_runs")
    op.drop_index("ix_terraform_runs_pull", table_name="terraform_runs")
    op.drop_table("terraform_runs")
