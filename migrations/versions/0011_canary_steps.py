"""Canary traffic steps: the ladder's rungs and where an analysis stands on it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    # NULL for every existing analysis: one without steps (the whole duration at full weight).
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("step_started_at", TIMESTAMP, nullable=True))
        batch_op.add_column(sa.Column("step_first_interval", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("paused_status", sa.String(24), nullable=True))
        batch_op.add_column(sa.Column("paused_by", sa.String(255), nullable=True))
    op.create_table(
        "analysis_steps",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "analysis_id", sa.Integer(), sa.ForeignKey("analyses.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("commit_sha", sa.String(64), nullable=True),
        sa.Column("pr_number", sa.Integer(), nullable=True),
        sa.Column("pr_url", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.UniqueConstraint("analysis_id", "index", name="uq_analysis_steps_index"),
    )


def downgrade() -> None:
    op.drop_table("analysis_steps")
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        for column in ("paused_by", "paused_status", "step_first_interval", "step_started_at", "step"):
            batch_op.drop_column(column)
