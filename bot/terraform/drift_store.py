"""The drift checks' rows: the latest check of each scheduled project (one row per project)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.db import Database
from bot.storage.models import DriftCheck
from bot.storage.statements import upsert
from bot.storage.types import utcnow


@dataclass(frozen=True)
class DriftRecord:
    """A project's drift check as recorded: what the plan said, and the issue it keeps."""

    repo: str
    project: str
    dir: str
    workspace: str
    status: str
    headline: str
    head_sha: str | None
    issue_number: int | None
    checked_at: datetime | None = None
    noted_headline: str | None = None  # the drift the last Slack note told of (drift_notes)


class DriftStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def record(self, check: DriftRecord, *, now: datetime | None = None) -> None:
        """The project's latest check becomes ``check`` (checked now)."""
        with self.database.transaction() as session:
            self.record_in(session, check, now=now)

    def record_in(self, session: Session, check: DriftRecord, *, now: datetime | None = None) -> None:
        """``record`` inside the caller's transaction (a note's job commits with its check)."""
        values = {
            "dir": check.dir,
            "workspace": check.workspace,
            "checked_at": now or utcnow(),
            "status": check.status,
            "headline": check.headline,
            "head_sha": check.head_sha,
            "issue_number": check.issue_number,
            "noted_headline": check.noted_headline,
        }
        statement = upsert(
            self.database.dialect, DriftCheck, conflict=["repo", "project"], update=values
        ).values(repo=check.repo, project=check.project, **values)
        session.execute(statement)

    def last_checked(self, repo: str) -> Mapping[str, datetime]:
        """When each of ``repo``'s projects was last checked, by project name."""
        with self.database.sessions() as session:
            rows = session.execute(
                select(DriftCheck.project, DriftCheck.checked_at).where(DriftCheck.repo == repo)
            ).all()
        return {project: checked_at for project, checked_at in rows}

    def latest(self, repo: str | None = None) -> list[DriftRecord]:
        """Every project's latest check (of ``repo`` only, when given), by repo and project."""
        query = select(DriftCheck).order_by(DriftCheck.repo, DriftCheck.project)
        if repo is not None:
            query = query.where(DriftCheck.repo == repo)
        with self.database.sessions() as session:
            return [_record(row) for row in session.scalars(query)]

    def get(self, repo: str, project: str) -> DriftRecord | None:
        with self.database.sessions() as session:
            row = session.scalars(
                select(DriftCheck).where(DriftCheck.repo == repo, DriftCheck.project == project)
            ).first()
            return None if row is None else _record(row)


def _record(row: DriftCheck) -> DriftRecord:
    return DriftRecord(
        row.repo,
        row.project,
        row.dir,
        row.workspace,
        row.status,
        row.headline,
        row.head_sha,
        row.issue_number,
        row.checked_at,
        row.noted_headline,
    )
