"""drift notes: the drift the repository's Slack channel was last told of, per project

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-13
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL for every existing row: drift found before this revision is told of at its next check.
    with op.batch_alter_table("drift_checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("noted_headline", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drift_checks", schema=None) as batch_op:
        batch_op.drop_column("noted_headline")
