"""The local forge's pull requests and issues, comments, reviews and commit statuses

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out, as in the other revisions: a migration must not change when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "local_threads",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("repo", sa.String(255), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("head_ref", sa.String(512), nullable=True),
        sa.Column("base_ref", sa.String(255), nullable=True),
        sa.Column("head_sha", sa.String(64), nullable=True),
        sa.Column("merge_sha", sa.String(64), nullable=True),
        sa.Column("merged_by", sa.String(255), nullable=True),
        sa.Column("draft", sa.Boolean(), nullable=False),
        sa.Column("labels", JSON, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("repo", "kind", "number", name="uq_local_threads_repo_kind_number"),
    )
    op.create_table(
        "local_comments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("repo", sa.String(255), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reactions", JSON, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_local_comments_thread", "local_comments", ["repo", "number"])
    op.create_table(
        "local_reviews",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("repo", sa.String(255), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("commit_id", sa.String(64), nullable=True),
        sa.Column("submitted_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_local_reviews_thread", "local_reviews", ["repo", "number"])
    op.create_table(
        "local_statuses",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("repo", sa.String(255), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("context", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("target_url", sa.String(1024), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("repo", "sha", "context", name="uq_local_statuses_repo_sha_context"),
    )


def downgrade() -> None:
    op.drop_table("local_statuses")
    op.drop_index("ix_local_reviews_thread", table_name="local_reviews")
    op.drop_table("local_reviews")
    op.drop_index("ix_local_comments_thread", table_name="local_comments")
    op.drop_table("local_comments")
    op.drop_table("local_threads")
