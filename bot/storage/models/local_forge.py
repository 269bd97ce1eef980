"""The local forge (GITOPS_BOT_FORGE=local): its pull requests, comments, reviews and statuses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base
from bot.storage.types import JSONDocument, UTCDateTime, utcnow


class LocalThread(Base):
    """A pull request or an issue on the local forge, numbered per repository and kind: pull
    requests 1, 2, 3 … whatever issues the bot opened (drift), so that what a person reads in the
    README is what they get. Its branches are real branches of the bare repository."""

    __tablename__ = "local_threads"
    __table_args__ = (UniqueConstraint("repo", "kind", "number", name="uq_local_threads_repo_kind_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # pull_request | issue
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))  # open | closed | merged
    author: Mapped[str] = mapped_column(String(255))
    head_ref: Mapped[str | None] = mapped_column(String(512))
    base_ref: Mapped[str | None] = mapped_column(String(255))
    head_sha: Mapped[str | None] = mapped_column(String(64))
    merge_sha: Mapped[str | None] = mapped_column(String(64))
    merged_by: Mapped[str | None] = mapped_column(String(255))
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[Any | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LocalComment(Base):
    """A comment on a local pull request or issue (its id is the comment id the bot sees)."""

    __tablename__ = "local_comments"
    __table_args__ = (Index("ix_local_comments_thread", "repo", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    number: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    reactions: Mapped[Any | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LocalReview(Base):
    """A review of a local pull request, in submission order."""

    __tablename__ = "local_reviews"
    __table_args__ = (Index("ix_local_reviews_thread", "repo", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    number: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32))  # ReviewState
    commit_id: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LocalStatus(Base):
    """A commit status on the local forge: the latest per (repository, commit, context)."""

    __tablename__ = "local_statuses"
    __table_args__ = (UniqueConstraint("repo", "sha", "context", name="uq_local_statuses_repo_sha_context"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255))
    sha: Mapped[str] = mapped_column(String(64))
    context: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    target_url: Mapped[str | None] = mapped_column(String(1024))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
