"""The local forge's rows: pull requests and issues (one numbering per repository), comments,
reviews and commit statuses. The store owns them; rows leave it detached, never half-written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.storage.db import Database
from bot.storage.models import LocalComment, LocalReview, LocalStatus, LocalThread
from bot.storage.types import utcnow


class LocalStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self.database.sessions() as session:
            yield session
            session.expunge_all()

    # -- pull requests and issues --------------------------------------------------------------

    def create_thread(self, repo: str, kind: str, **fields: Any) -> LocalThread:
        """A new pull request or issue with the next number of its kind in the repository
        (retried once when another writer took the same number in between)."""
        for attempt in (1, 2):
            try:
                with self.database.transaction() as session:
                    mine = (LocalThread.repo == repo, LocalThread.kind == kind)
                    number = (session.scalar(select(func.max(LocalThread.number)).where(*mine)) or 0) + 1
                    now = utcnow()
                    row = LocalThread(
                        repo=repo, kind=kind, number=number, created_at=now, updated_at=now, **fields
                    )
                    session.add(row)
                    session.flush()
                    session.expunge(row)
                    return row
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def thread(self, repo: str, number: int, kind: str = "pull_request") -> LocalThread | None:
        where = (LocalThread.repo == repo, LocalThread.kind == kind, LocalThread.number == number)
        with self._read() as session:
            return session.scalar(select(LocalThread).where(*where))

    def threads(self, repo: str, *, kind: str | None = None, state: str | None = None) -> list[LocalThread]:
        """Newest first."""
        statement = select(LocalThread).where(LocalThread.repo == repo).order_by(LocalThread.number.desc())
        if kind is not None:
            statement = statement.where(LocalThread.kind == kind)
        if state is not None:
            statement = statement.where(LocalThread.state == state)
        with self._read() as session:
            return list(session.scalars(statement))

    def update_thread(
        self, repo: str, number: int, kind: str = "pull_request", **fields: Any
    ) -> LocalThread | None:
        where = (LocalThread.repo == repo, LocalThread.kind == kind, LocalThread.number == number)
        with self.database.transaction() as session:
            row = session.scalar(select(LocalThread).where(*where))
            if row is None:
                return None
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            session.flush()
            session.expunge(row)
            return row

    # -- comments --------------------------------------------------------------------------------

    def add_comment(self, repo: str, number: int, author: str, body: str) -> LocalComment:
        with self.database.transaction() as session:
            now = utcnow()
            row = LocalComment(
                repo=repo, number=number, author=author, body=body, created_at=now, updated_at=now
            )
            session.add(row)
            session.flush()
            session.expunge(row)
            return row

    def comment(self, repo: str, comment_id: int) -> LocalComment | None:
        with self._read() as session:
            row = session.get(LocalComment, comment_id)
            return row if row is not None and row.repo == repo else None

    def edit_comment(
        self, repo: str, comment_id: int, *, body: str | None = None, reaction: str | None = None
    ) -> LocalComment | None:
        with self.database.transaction() as session:
            row = session.get(LocalComment, comment_id)
            if row is None or row.repo != repo:
                return None
            if body is not None:
                row.body, row.updated_at = body, utcnow()
            if reaction is not None:
                row.reactions = sorted({*(row.reactions or []), reaction})
            session.flush()
            session.expunge(row)
            return row

    def comments(self, repo: str, number: int) -> list[LocalComment]:
        statement = select(LocalComment).where(LocalComment.repo == repo, LocalComment.number == number)
        with self._read() as session:
            return list(session.scalars(statement.order_by(LocalComment.id)))

    # -- reviews and statuses ------------------------------------------------------------------

    def add_review(self, repo: str, number: int, author: str, state: str, commit_id: str | None) -> None:
        with self.database.transaction() as session:
            session.add(
                LocalReview(
                    repo=repo,
                    number=number,
                    author=author,
                    state=state,
                    commit_id=commit_id,
                    submitted_at=utcnow(),
                )
            )

    def reviews(self, repo: str, number: int) -> list[LocalReview]:
        statement = select(LocalReview).where(LocalReview.repo == repo, LocalReview.number == number)
        with self._read() as session:
            return list(session.scalars(statement.order_by(LocalReview.id)))

    def set_status(
        self, repo: str, sha: str, context: str, state: str, description: str, target_url: str | None
    ) -> None:
        with self.database.transaction() as session:
            row = session.scalar(
                select(LocalStatus).where(
                    LocalStatus.repo == repo, LocalStatus.sha == sha, LocalStatus.context == context
                )
            )
            if row is None:
                row = LocalStatus(repo=repo, sha=sha, context=context)
                session.add(row)
            row.state, row.description, row.target_url, row.updated_at = (
                state,
                description,
                target_url,
                utcnow(),
            )

    def statuses(self, repo: str, sha: str) -> list[LocalStatus]:
        statement = select(LocalStatus).where(LocalStatus.repo == repo, LocalStatus.sha == sha)
        with self._read() as session:
            return list(session.scalars(statement.order_by(LocalStatus.context)))
