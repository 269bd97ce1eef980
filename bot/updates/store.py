"""The ``UpdateRequest`` rows, and the only code that writes them.

A row is the bot's record of one update branch (``gitops-bot/<deployment>/<version>``) of one
repository. It is written when the bot proposes the update (opened, updated or decided in
dry-run), when a newer proposal supersedes it, and when its pull request closes or merges.

One "closed" event reaches two jobs (the updates handler and the deployments merge record); both
go through :meth:`UpdateStore.mark_closed`, whose transition (:func:`closed_status`) leaves the
same row whichever of them runs first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.db import Database
from bot.storage.models import UpdateRequest, UpdateStatus
from bot.storage.types import utcnow

# Proposals still standing: a closed pull request settles them, nothing else moves them.
STANDING: frozenset[str] = frozenset({UpdateStatus.OPEN, UpdateStatus.DRY_RUN})


def closed_status(current: str, *, merged: bool) -> UpdateStatus | None:
    """The status a closed pull request gives a row, or None to leave it (already settled)."""
    if current not in STANDING:
        return None
    return UpdateStatus.MERGED if merged else UpdateStatus.CLOSED


@dataclass(frozen=True)
class ProposalRecord:
    """One proposal as the row keeps it: the branch, what it proposes and where it stands."""

    repo: str
    branch: str
    deployment: str
    version: str
    digest: str | None
    status: UpdateStatus  # OPEN or DRY_RUN
    requested_by: str
    details: dict[str, object]
    event_id: int | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    head_sha: str | None = None
    supersedes: tuple[str, ...] = field(default=())
    """Branches of older proposals this one replaces (marked ``superseded`` in the same transaction)."""


class UpdateStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def record_proposal(self, record: ProposalRecord) -> None:
        """Create or update the row of ``record.branch``, and supersede the rows it replaces."""
        now = datetime.now(UTC)
        with self.database.transaction() as session:
            row = _row(session, record.repo, record.branch)
            if row is None:
                row = UpdateRequest(repo=record.repo, branch=record.branch, created_at=now)
                session.add(row)
            row.deployment = record.deployment
            row.version = record.version
            row.digest = record.digest
            row.status = record.status
            row.pr_number = record.pr_number
            row.pr_url = record.pr_url
            row.head_sha = record.head_sha
            row.event_id = record.event_id if record.event_id is not None else row.event_id
            row.requested_by = record.requested_by
            row.details = record.details
            row.updated_at = now
            session.flush()
            self._mark_superseded(session, record.repo, record.supersedes, by=row.id, now=now)

    @staticmethod
    def _mark_superseded(
        session: Session, repo: str, branches: tuple[str, ...], *, by: int, now: datetime
    ) -> None:
        for branch in branches:
            previous = _row(session, repo, branch)
            if previous is not None:
                previous.status = UpdateStatus.SUPERSEDED
                previous.superseded_by = by
                previous.updated_at = now

    def mark_closed(self, repo: str, branch: str, *, merged: bool, head_sha: str | None) -> None:
        """The pull request of ``branch`` closed (merged or not): settle a standing proposal."""
        with self.database.transaction() as session:
            row = _row(session, repo, branch)
            status = closed_status(row.status, merged=merged) if row is not None else None
            if row is None or status is None:
                return
            row.status = status
            row.head_sha = head_sha
            row.updated_at = utcnow()

    def mark_merged(self, repo: str, branch: str, *, head_sha: str | None) -> None:
        self.mark_closed(repo, branch, merged=True, head_sha=head_sha)

    def deployment_of(self, repo: str, pr_number: int) -> str | None:
        """The deployment an update pull request of ours moves (None: not one of ours)."""
        with self.database.sessions() as session:
            row = session.scalar(
                select(UpdateRequest).where(UpdateRequest.repo == repo, UpdateRequest.pr_number == pr_number)
            )
            return row.deployment if row is not None else None

    def open_pull_requests(self, *, automerge_only: bool = False) -> list[tuple[str, int]]:
        """``(repo, number)`` of every update pull request still open; ``automerge_only``: of those
        whose deployment had ``automerge: true`` when proposed (rows older than that flag count)."""
        with self.database.sessions() as session:
            rows = session.execute(
                select(UpdateRequest.repo, UpdateRequest.pr_number, UpdateRequest.details).where(
                    UpdateRequest.status == UpdateStatus.OPEN, UpdateRequest.pr_number.is_not(None)
                )
            ).all()
        return [
            (repo, number)
            for repo, number, details in rows
            if number is not None and (not automerge_only or (details or {}).get("automerge", True))
        ]


def _row(session: Session, repo: str, branch: str) -> UpdateRequest | None:
    return session.scalar(
        select(UpdateRequest).where(UpdateRequest.repo == repo, UpdateRequest.branch == branch)
    )
