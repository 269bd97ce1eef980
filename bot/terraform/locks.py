"""Terraform locks: one pull request at a time per repo + dir + workspace (+ project).

The unique constraint on ``locks`` *is* the lock: taking it is an
``INSERT … ON CONFLICT DO NOTHING``, never a read-then-write, so two replicas racing
for the same directory cannot both win. Locks live in the database and hold across
restarts and replicas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, or_, select

from bot.storage.db import Database
from bot.storage.models import Lock
from bot.storage.statements import insert_ignoring_conflicts
from bot.storage.types import utcnow


@dataclass(frozen=True)
class LockKey:
    repo: str
    dir: str
    workspace: str = "default"
    project: str = ""

    def describe(self) -> str:
        name = f" (project {self.project})" if self.project else ""
        return f"{self.repo} dir `{self.dir}` workspace `{self.workspace}`{name}"


@dataclass(frozen=True)
class LockInfo:
    id: int
    key: LockKey
    pr_number: int
    pr_url: str | None
    owner: str
    created_at: datetime


@dataclass(frozen=True)
class AcquireResult:
    acquired: bool  # True when this PR holds the lock (newly or already)
    lock: LockInfo  # the lock as it stands: ours, or the holder's


def _info(row: Lock) -> LockInfo:
    return LockInfo(
        id=row.id,
        key=LockKey(row.repo, row.dir, row.workspace, row.project),
        pr_number=row.pr_number,
        pr_url=row.pr_url,
        owner=row.owner,
        created_at=row.created_at,
    )


class LockStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def acquire(
        self, key: LockKey, *, pr_number: int, owner: str, pr_url: str | None = None
    ) -> AcquireResult:
        statement = insert_ignoring_conflicts(
            self.database.dialect, Lock, conflict=["repo", "dir", "workspace", "project"]
        ).values(
            repo=key.repo,
            dir=key.dir,
            workspace=key.workspace,
            project=key.project,
            pr_number=pr_number,
            pr_url=pr_url,
            owner=owner,
            created_at=utcnow(),
        )
        with self.database.transaction() as session:
            session.execute(statement)
            row = session.execute(
                select(Lock).where(
                    Lock.repo == key.repo,
                    Lock.dir == key.dir,
                    Lock.workspace == key.workspace,
                    Lock.project == key.project,
                )
            ).scalar_one()
            info = _info(row)
        return AcquireResult(acquired=info.pr_number == pr_number, lock=info)

    def release_pull(self, repo: str, pr_number: int) -> list[LockInfo]:
        """Release every lock a pull request holds (it merged or closed)."""
        with self.database.transaction() as session:
            rows = session.execute(
                delete(Lock).where(Lock.repo == repo, Lock.pr_number == pr_number).returning(Lock)
            ).scalars()
            return [_info(row) for row in rows]

    def release(self, lock_id: int) -> LockInfo | None:
        with self.database.transaction() as session:
            row = session.execute(delete(Lock).where(Lock.id == lock_id).returning(Lock)).scalar_one_or_none()
            return _info(row) if row is not None else None

    def get(self, lock_id: int) -> LockInfo | None:
        with self.database.sessions() as session:
            row = session.get(Lock, lock_id)
            return _info(row) if row is not None else None

    def list(self, repo: str | None = None, *, pr_number: int | None = None) -> list[LockInfo]:
        statement = select(Lock).order_by(Lock.created_at.desc(), Lock.id.desc())
        if repo is not None:
            statement = statement.where(Lock.repo == repo)
        if pr_number is not None:
            statement = statement.where(Lock.pr_number == pr_number)
        with self.database.sessions() as session:
            return [_info(row) for row in session.execute(statement).scalars()]

    def newest(self, limit: int, *, before: tuple[datetime, int] | None = None) -> list[LockInfo]:
        """At most ``limit`` locks, newest first; ``before`` (taken at, id) continues a listing."""
        statement = select(Lock).order_by(Lock.created_at.desc(), Lock.id.desc()).limit(limit)
        if before is not None:
            taken_at, lock_id = before
            statement = statement.where(
                or_(Lock.created_at < taken_at, and_(Lock.created_at == taken_at, Lock.id < lock_id))
            )
        with self.database.sessions() as session:
            return [_info(row) for row in session.execute(statement).scalars()]
