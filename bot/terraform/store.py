"""The saved plans of pull requests: their ``plans`` rows, plan files included.

Every read and write of a saved plan goes through :class:`PlanStore` (as every lock goes through
:class:`bot.terraform.locks.LockStore`). A project has one row per pull request, replaced by each
new plan and tied to the head sha it was made at. The binary plan file is stored in that row (not
on the planning replica's disk), so any replica, or this one after a restart, can apply it; it
expires after ``GITOPS_BOT_TERRAFORM_PLAN_TTL_SECONDS`` and is dropped once applied. Reads hand
out :class:`SavedPlan` values, never live rows, and never the plan file's bytes: those are only
ever written to the work tree that applies them (:meth:`PlanStore.place_planfile`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from bot.storage.db import Database
from bot.storage.models import Plan
from bot.storage.types import utcnow
from bot.terraform.apply_gate import PlanFacts
from bot.terraform.policy_results import PolicyOutcome, blocks_apply, from_json, to_json
from bot.terraform.projects import ProjectTarget

if TYPE_CHECKING:
    from bot.services import Services

# Terraform's output kept per plan: its tail, where the errors and the summary are.
OUTPUT_LIMIT = 200_000


@dataclass(frozen=True)
class SavedPlan:
    """A project's saved plan as read at one moment (``expired`` is as of that moment)."""

    id: int
    project: str
    dir: str
    workspace: str
    status: str
    head_sha: str
    base_sha: str | None
    planfile_sha256: str | None  # the stored plan file's digest; None: no file to apply
    planfile_size: int | None
    expires_at: datetime | None
    expired: bool
    policy_outcomes: tuple[PolicyOutcome, ...] = ()
    policies_approved_sha: str | None = None  # where ``approve_policies`` let failures through

    @property
    def policies_failed(self) -> bool:
        return blocks_apply(self.policy_outcomes)

    @property
    def has_planfile(self) -> bool:
        return self.planfile_sha256 is not None

    @property
    def facts(self) -> PlanFacts:
        return PlanFacts(self.status, self.has_planfile, self.head_sha, self.base_sha, expired=self.expired)


@dataclass(frozen=True)
class NewPlan:
    """A plan just made, as :meth:`PlanStore.save` records it."""

    head_sha: str
    base_sha: str
    status: str
    planfile: Path | None  # the plan file Terraform wrote in the work tree (read when saved)
    headline: str
    output: str
    requested_by: str
    policy_outcomes: tuple[PolicyOutcome, ...] = ()


@dataclass(frozen=True)
class PlanFile:
    """A plan file's bytes with their digest and size (what a ``plans`` row stores)."""

    data: bytes
    sha256: str

    @classmethod
    def read(cls, path: Path | None) -> PlanFile | None:
        if path is None or not path.is_file():
            return None
        data = path.read_bytes()
        return cls(data, hashlib.sha256(data).hexdigest())


def _saved(row: Plan, now: datetime) -> SavedPlan:
    return SavedPlan(
        id=row.id,
        project=row.project,
        dir=row.dir,
        workspace=row.workspace,
        status=row.status,
        head_sha=row.head_sha,
        base_sha=row.base_sha,
        planfile_sha256=row.planfile_sha256,
        planfile_size=row.planfile_size,
        expires_at=row.expires_at,
        expired=is_expired(row.expires_at, now),
        policy_outcomes=from_json(row.policy_results),
        policies_approved_sha=row.policies_approved_sha,
    )


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    """A plan with no expiry (saved before plans expired) never expires by time."""
    return expires_at is not None and expires_at <= now


def plan_store(services: Services) -> PlanStore:
    return PlanStore(services.database, ttl_seconds=services.settings.terraform_plan_ttl_seconds)


class PlanStore:
    def __init__(
        self, database: Database, *, ttl_seconds: float, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.database = database
        self.ttl = timedelta(seconds=ttl_seconds)
        self.clock = clock

    def for_pull(self, repo: str, number: int) -> list[SavedPlan]:
        now = self.clock()
        with self.database.sessions() as session:
            return [_saved(row, now) for row in session.scalars(_of_pull(repo, number))]

    def comment_ids(self, repo: str, number: int, targets: Sequence[ProjectTarget]) -> set[int]:
        """The comments showing the targets' current plans (a new plan supersedes them)."""
        with self.database.sessions() as session:
            return {
                int(comment_id)
                for row in _target_rows(session, repo, number, targets)
                for comment_id in (row.summary or {}).get("comment_ids", [])
            }

    def remember_comments(
        self, repo: str, number: int, targets: Sequence[ProjectTarget], comment_ids: list[int]
    ) -> None:
        with self.database.transaction() as session:
            for row in _target_rows(session, repo, number, targets):
                row.summary = {**(row.summary or {}), "comment_ids": comment_ids}

    def save(self, repo: str, number: int, target: ProjectTarget, plan: NewPlan) -> None:
        """Record the target's new plan with its plan file, replacing the one before (comment ids
        included); expired plan files of every pull request are dropped on the way."""
        planfile = PlanFile.read(plan.planfile)
        now = self.clock()
        with self.database.transaction() as session:
            _drop_expired_files(session, now)
            row = session.scalar(
                _of_pull(repo, number).where(
                    Plan.dir == target.dir, Plan.workspace == target.workspace, Plan.project == target.name
                )
            )
            if row is None:
                row = Plan(
                    repo=repo,
                    pr_number=number,
                    dir=target.dir,
                    workspace=target.workspace,
                    project=target.name,
                )
                session.add(row)
            row.head_sha = plan.head_sha
            row.base_sha = plan.base_sha
            row.status = plan.status
            _store_file(row, planfile)
            row.summary = {"headline": plan.headline}
            row.output = plan.output[-OUTPUT_LIMIT:]
            row.requested_by = plan.requested_by
            row.policy_results = to_json(plan.policy_outcomes) if plan.policy_outcomes else None
            row.policies_approved_sha = None  # an approval was for the plan it replaces
            row.created_at = now
            row.expires_at = now + self.ttl

    def place_planfile(self, plan: SavedPlan, destination: Path) -> bool:
        """Write the saved plan file to ``destination`` (the work tree that applies it); False when
        it is no longer stored: applied, expired, discarded or replaced by a newer plan since."""
        if plan.planfile_sha256 is None:
            return False
        with self.database.sessions() as session:
            data = session.scalar(
                select(Plan.planfile_data).where(
                    Plan.id == plan.id,
                    Plan.planfile_sha256 == plan.planfile_sha256,
                    Plan.expires_at > self.clock(),
                )
            )
        if data is None or hashlib.sha256(data).hexdigest() != plan.planfile_sha256:
            return False
        destination.write_bytes(data)
        return True

    def record_apply(self, plan: SavedPlan, *, applied: bool, output: str) -> None:
        """An apply ran: keep its outcome; the plan file is spent either way (a plan whose apply
        failed must be made again), so it is dropped."""
        with self.database.transaction() as session:
            stored = session.get(Plan, plan.id)
            if stored is not None:
                stored.status = "applied" if applied else "apply_failed"
                stored.output = output[-OUTPUT_LIMIT:]
                _store_file(stored, None)
                if applied:
                    stored.applied_at = self.clock()

    def approve_policies(self, repo: str, number: int, head_sha: str) -> list[SavedPlan]:
        """Let the pull request's plans whose policies failed be applied at ``head_sha`` (its
        current head: a later push makes new plans, which clears this); the plans approved."""
        now = self.clock()
        approved = []
        with self.database.transaction() as session:
            for row in session.scalars(_of_pull(repo, number)):
                if blocks_apply(from_json(row.policy_results)):
                    row.policies_approved_sha = head_sha
                    approved.append(_saved(row, now))
        return approved

    def discard_pull(self, repo: str, number: int) -> None:
        """Forget every plan of the pull request, plan files included (``unlock``, merge, close)."""
        with self.database.transaction() as session:
            session.execute(delete(Plan).where(Plan.repo == repo, Plan.pr_number == number))

    def discard_target(self, repo: str, number: int, *, dir: str, workspace: str, project: str) -> None:
        """Forget the pull request's plan of one project (its lock was released on the console)."""
        with self.database.transaction() as session:
            session.execute(
                delete(Plan).where(
                    Plan.repo == repo,
                    Plan.pr_number == number,
                    Plan.dir == dir,
                    Plan.workspace == workspace,
                    Plan.project == project,
                )
            )

    def drop_expired_files(self) -> int:
        """Drop the plan files that expired (their rows stay, so apply can say "plan again")."""
        with self.database.transaction() as session:
            return _drop_expired_files(session, self.clock())


def _store_file(row: Plan, planfile: PlanFile | None) -> None:
    row.planfile_data = planfile.data if planfile else None
    row.planfile_sha256 = planfile.sha256 if planfile else None
    row.planfile_size = len(planfile.data) if planfile else None


def _drop_expired_files(session: Session, now: datetime) -> int:
    result = session.execute(
        update(Plan)
        .where(Plan.expires_at <= now, Plan.planfile_sha256.is_not(None))
        .values(planfile_data=None, planfile_sha256=None, planfile_size=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _of_pull(repo: str, number: int) -> Select[Plan]:
    return select(Plan).where(Plan.repo == repo, Plan.pr_number == number)


def _target_rows(session: Session, repo: str, number: int, targets: Iterable[ProjectTarget]) -> list[Plan]:
    keys = {(t.name, t.dir, t.workspace) for t in targets}
    return [
        row
        for row in session.scalars(_of_pull(repo, number))
        if (row.project, row.dir, row.workspace) in keys
    ]
