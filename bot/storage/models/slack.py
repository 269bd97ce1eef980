"""Slack: the thread each deployment's and pull request's messages go to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base
from bot.storage.types import JSONDocument, UTCDateTime, utcnow


class SlackThread(Base):
    """One Slack thread per deployment story, so a channel stays readable."""

    __tablename__ = "slack_threads"
    __table_args__ = (UniqueConstraint("key", name="uq_slack_threads_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(512))  # e.g. "<repo>:<deployment>:<version>"
    channel: Mapped[str] = mapped_column(String(64))
    thread_ts: Mapped[str] = mapped_column(String(32))
    state: Mapped[Any | None] = mapped_column(JSONDocument)  # what the top message shows
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
