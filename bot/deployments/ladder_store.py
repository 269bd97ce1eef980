"""The ladder's rows: ``analysis_steps`` and the ladder columns of ``analyses``.

One owner for them, like :class:`bot.deployments.store.DeploymentStore` for deployments. The
functions taking a ``session`` run inside the caller's transaction, with the analysis row locked
(:func:`bot.deployments.analysis_end.lock_analysis`), so a rung's status never disagrees with
where the analysis stands. What moves the ladder is decided in :mod:`bot.deployments.ladder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.deployments.ladder import LadderPlan, StepStatus
from bot.storage.db import Database
from bot.storage.models import Analysis, AnalysisInterval, AnalysisStep, Deployment


def add_rungs(
    session: Session, analysis: Analysis, ladder: LadderPlan, merge_sha: str, now: datetime
) -> None:
    """A new analysis on the first rung: the update's merge commit wrote its weight."""
    analysis.step = 0
    analysis.step_started_at = now
    analysis.step_first_interval = 0
    first = "rolling_out" if analysis.status == "waiting_rollout" else "judging"
    for index, rung in enumerate(ladder.rungs):
        session.add(
            AnalysisStep(
                analysis_id=analysis.id,
                index=index,
                weight=rung.weight,
                status=first if index == 0 else "pending",
                commit_sha=merge_sha if index == 0 else None,
                started_at=now if index == 0 else None,
            )
        )


def rung(session: Session, analysis_id: int, index: int) -> AnalysisStep | None:
    return session.scalar(
        select(AnalysisStep).where(AnalysisStep.analysis_id == analysis_id, AnalysisStep.index == index)
    )


def set_rung(
    session: Session,
    analysis_id: int,
    index: int,
    status: StepStatus,
    now: datetime,
    *,
    reason: str | None = None,
) -> None:
    row = rung(session, analysis_id, index)
    if row is None:
        return
    row.status = status
    if reason is not None:
        row.reason = reason
    if status in ("passed", "failed", "stopped", "cancelled", "skipped"):
        row.finished_at = now
    elif status in ("rolling_out", "judging") and row.started_at is None:
        row.started_at = now


def interval_count(session: Session, analysis_id: int) -> int:
    return int(
        session.execute(
            select(func.count(AnalysisInterval.id)).where(AnalysisInterval.analysis_id == analysis_id)
        ).scalar_one()
    )


def rung_dicts(session: Session, analysis_id: int) -> list[dict[str, Any]]:
    """The stored rungs, as :func:`bot.deployments.ladder.ladder_rows` reads them."""
    rows = session.scalars(
        select(AnalysisStep).where(AnalysisStep.analysis_id == analysis_id).order_by(AnalysisStep.index)
    )
    return [
        {
            "index": row.index,
            "weight": row.weight,
            "status": row.status,
            "commit_sha": row.commit_sha,
            "pr_number": row.pr_number,
            "pr_url": row.pr_url,
            "reason": row.reason,
            "started_at": row.started_at,
            "finished_at": row.finished_at,
        }
        for row in rows
    ]


@dataclass(frozen=True)
class StepPull:
    """A rung's pull request, found by its number: which analysis and rung it writes."""

    analysis_id: int
    index: int


class LadderStore:
    """Reads of the ladder for the workflows outside a transaction (rollback, pages, commands)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def step_commits(self, deployment_id: int) -> list[str]:
        """The commits of the rungs after the first (which the update's merge wrote), newest first:
        what a rollback reverts before the merge itself."""
        with self.database.sessions() as session:
            rows = session.execute(
                select(AnalysisStep.commit_sha)
                .join(Analysis, Analysis.id == AnalysisStep.analysis_id)
                .where(
                    Analysis.deployment_id == deployment_id,
                    AnalysisStep.index > 0,
                    AnalysisStep.commit_sha.is_not(None),
                )
                .order_by(AnalysisStep.index.desc())
            ).all()
        return [str(sha) for (sha,) in rows]

    def step_pull(self, repo: str, pr_number: int) -> StepPull | None:
        with self.database.sessions() as session:
            row = session.execute(
                select(AnalysisStep.analysis_id, AnalysisStep.index)
                .join(Analysis, Analysis.id == AnalysisStep.analysis_id)
                .join(Deployment, Deployment.id == Analysis.deployment_id)
                .where(Deployment.repo == repo, AnalysisStep.pr_number == pr_number)
                .order_by(AnalysisStep.id.desc())
            ).first()
        return None if row is None else StepPull(int(row[0]), int(row[1]))

    def rungs(self, analysis_id: int) -> list[dict[str, Any]]:
        with self.database.sessions() as session:
            return rung_dicts(session, analysis_id)


__all__ = [
    "LadderStore",
    "StepPull",
    "add_rungs",
    "interval_count",
    "rung",
    "rung_dicts",
    "set_rung",
]
