"""policy checks of saved plans: their outcomes, and the head sha they were approved at

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Plans saved before this revision have no outcomes: nothing was checked, so nothing blocks them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy_results", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("policies_approved_sha", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("policies_approved_sha")
        batch_op.drop_column("policy_results")
