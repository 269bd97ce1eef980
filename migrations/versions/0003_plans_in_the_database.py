"""saved plan files in the database (any replica applies them), with an expiry

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

The plan file used to live on the planning pod's disk (``plans.planfile`` held its path); it is
now stored in ``plans.planfile_data``. Plans saved before this revision have no stored file and
are refused at apply with "plan again" (their files, if any, are left where they were).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planfile_data", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("planfile_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("planfile_size", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", TIMESTAMP, nullable=True))
        batch_op.drop_column("planfile")
        batch_op.create_index("ix_plans_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index("ix_plans_expires_at")
        batch_op.add_column(sa.Column("planfile", sa.String(length=2048), nullable=True))
        batch_op.drop_column("expires_at")
        batch_op.drop_column("planfile_size")
        batch_op.drop_column("planfile_sha256")
        batch_op.drop_column("planfile_data")
