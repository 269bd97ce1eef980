"""The saved plans of pull requests: their ``plans`` rows and their plan files.

Every read and write of a saved plan goes through :class:`PlanStore` (as every lock goes through
:class:`bot.terraform.locks.LockStore`). A project has one row per pull request, replaced by each
new plan; its plan file lives under ``GITOPS_BOT_DATA_DIR/plans``, outside any work tree, tied to
the head sha it was made at. Reads hand out :class:`SavedPlan` values, never live rows.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from bot.storage.db import Database
from bot.storage.models import Plan
from bot.storage.types import utcnow
from bot.terraform.apply_gate import PlanFacts
from bot.terraform.projects import ProjectTarget

if TYPE_CHECKING:
    from bot.services import Services

# Terraform's output kept per plan: its tail, where the errors and the summary are.
OUTPUT_LIMIT = 200_000


@dataclass(frozen=True)
class SavedPlan:
    id: int
    project: str
    dir: str
    workspace: str
    status: str
    planfile: str | None
    head_sha: str
    base_sha: str | None

    @property
    def facts(self) -> PlanFacts:
        return PlanFacts(self.status, bool(self.planfile), self.head_sha, self.base_sha)


@dataclass(frozen=True)
class NewPlan:
    """A plan just made, as :meth:`PlanStore.save` records it."""

    head_sha: str
    base_sha: str
    status: str
    planfile: str | None
    headline: str
    output: str
    requested_by: str


def _saved(row: Plan) -> SavedPlan:
    return SavedPlan(
        id=row.id,
        project=row.project,
        dir=row.dir,
        workspace=row.workspace,
        status=row.status,
        planfile=row.planfile,
        head_sha=row.head_sha,
        base_sha=row.base_sha,
    )


def plan_store(services: Services) -> PlanStore:
    return PlanStore(services.database, Path(services.settings.data_dir))


class PlanStore:
    def __init__(self, database: Database, data_dir: Path) -> None:
        self.database = database
        self.plans_dir = data_dir.absolute() / "plans"

    def for_pull(self, repo: str, number: int) -> list[SavedPlan]:
        with self.database.sessions() as session:
            return [_saved(row) for row in session.scalars(_of_pull(repo, number))]

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

    def keep_planfile(self, repo: str, number: int, target: ProjectTarget, made: Path | None) -> str | None:
        """Move a plan file out of the work tree (which is removed) to where apply finds it."""
        if made is None or not made.is_file():
            return None
        digest = hashlib.sha256(f"{repo}#{number}|{target.key}".encode()).hexdigest()[:32]
        kept = self.plans_dir / f"{digest}.tfplan"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(made, kept)
        return str(kept)

    def save(self, repo: str, number: int, target: ProjectTarget, plan: NewPlan) -> None:
        """Record the target's new plan, replacing the one before (comment ids included)."""
        with self.database.transaction() as session:
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
            row.planfile = plan.planfile
            row.summary = {"headline": plan.headline}
            row.output = plan.output[-OUTPUT_LIMIT:]
            row.requested_by = plan.requested_by
            row.created_at = utcnow()

    def place_planfile(self, plan: SavedPlan, destination: Path) -> bool:
        """Copy the saved plan file to ``destination``; False when this bot no longer has it."""
        if not plan.planfile or not Path(plan.planfile).is_file():
            return False
        shutil.copyfile(plan.planfile, destination)
        return True

    def record_apply(self, plan: SavedPlan, *, applied: bool, output: str) -> None:
        """An apply ran: keep its outcome; an applied plan file is spent and removed."""
        with self.database.transaction() as session:
            stored = session.get(Plan, plan.id)
            if stored is not None:
                stored.status = "applied" if applied else "apply_failed"
                stored.output = output[-OUTPUT_LIMIT:]
        if applied:
            Path(plan.planfile or "").unlink(missing_ok=True)

    def discard_pull(self, repo: str, number: int) -> None:
        """Forget every plan of the pull request, files included (``unlock``, merge, close)."""
        with self.database.transaction() as session:
            for row in session.scalars(_of_pull(repo, number)):
                if row.planfile:
                    Path(row.planfile).unlink(missing_ok=True)
            session.execute(delete(Plan).where(Plan.repo == repo, Plan.pr_number == number))


def _of_pull(repo: str, number: int) -> Select[Plan]:
    return select(Plan).where(Plan.repo == repo, Plan.pr_number == number)


def _target_rows(session: Session, repo: str, number: int, targets: Iterable[ProjectTarget]) -> list[Plan]:
    keys = {(t.name, t.dir, t.workspace) for t in targets}
    return [
        row
        for row in session.scalars(_of_pull(repo, number))
        if (row.project, row.dir, row.workspace) in keys
    ]
