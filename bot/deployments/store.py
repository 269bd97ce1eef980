"""The deployment rows: every write of ``deployments`` and ``analyses`` made by the workflows.

Like :class:`bot.terraform.locks.LockStore` and :class:`bot.deployments.quarantine.QuarantineStore`,
one owner for the rows, so the status a deployment can be in is set in one place. The workflows
get detached :class:`DeployedVersion` snapshots back, never live ORM rows. The analysis loop
(:mod:`bot.deployments.analysis`) writes its steps under a row lock inside its own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.adapters.forge.names import pull_reference
from bot.audit import record_action
from bot.deployments import plan as plans
from bot.deployments.ladder_store import add_rungs
from bot.deployments.plan import AnalysisPlan
from bot.storage.db import Database
from bot.storage.models import Analysis, AnalysisInterval, AnalysisStep, Deployment
from bot.storage.types import utcnow


@dataclass(frozen=True)
class DeployedVersion:
    """A ``deployments`` row as the workflows and templates read it."""

    id: int
    repo: str
    name: str
    version: str
    previous_version: str | None
    status: str
    merge_commit_sha: str
    merged_at: datetime
    pr_number: int | None
    pr_url: str | None
    rollback_pr_number: int | None
    rollback_pr_url: str | None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str | None:
        """The title of the pull request that merged it."""
        return self.details.get("title")

    @classmethod
    def of(cls, row: Deployment) -> DeployedVersion:
        return cls(
            id=row.id,
            repo=row.repo,
            name=row.name,
            version=row.version,
            previous_version=row.previous_version,
            status=row.status,
            merge_commit_sha=row.merge_commit_sha,
            merged_at=row.merged_at,
            pr_number=row.pr_number,
            pr_url=row.pr_url,
            rollback_pr_number=row.rollback_pr_number,
            rollback_pr_url=row.rollback_pr_url,
            details=dict(row.details or {}),
        )


@dataclass(frozen=True)
class NewDeployment:
    """What a merged pull request deployed, to be recorded."""

    repo: str
    name: str
    version: str
    previous_version: str | None
    pr_number: int
    pr_url: str | None
    merge_commit_sha: str
    details: Mapping[str, Any]
    canary: AnalysisPlan | None  # the analysis to start, when the deployment has a canary section


@dataclass(frozen=True)
class EndedAnalysis:
    """An ended analysis with what its follow-up reports: the verdicts and the evidence."""

    plan: AnalysisPlan
    status: str
    reason: str
    deployment_id: int
    repo: str
    pr_number: int | None
    merge_commit_sha: str
    verdicts: tuple[str, ...]
    last_evidence: Any
    intervals: list[dict[str, Any]]


class DeploymentStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # ----------------------------------------------------------------------- merges

    def record(self, new: NewDeployment, *, actor: str, summary: str, dry_run: bool) -> int | None:
        """Record a merged deployment (its older ones superseded, their canaries stopped) and start
        its analysis; audited in the same transaction. None when this merge is already recorded."""
        now = utcnow()
        try:
            with self.database.transaction() as session:
                row = _insert_deployment(session, new, now)
                cancel_superseded(session, repo=new.repo, name=new.name, newer_id=row.id, now=now)
                _supersede_older(session, row, now)
                if new.canary is not None:
                    analysis = _first_analysis(new.canary, row.id, now)
                    session.add(analysis)
                    if new.canary.ladder is not None:
                        session.flush()  # the analysis id, for its rungs
                        add_rungs(session, analysis, new.canary.ladder, new.merge_commit_sha, now)
                record_action(
                    session,
                    kind="deployment.recorded",
                    actor=actor,
                    repo=new.repo,
                    target=f"{new.name}@{new.version}",
                    summary=summary,
                    outcome="recorded",
                    dry_run=dry_run,
                    details={"merge_commit_sha": new.merge_commit_sha, "pr_number": new.pr_number},
                )
                return row.id
        except IntegrityError:
            return None

    # ----------------------------------------------------------------------- rollback

    def get(self, deployment_id: int) -> DeployedVersion | None:
        with self.database.sessions() as session:
            row = session.get(Deployment, deployment_id)
            return None if row is None else DeployedVersion.of(row)

    def newest_first(
        self, *, repo: str, name: str | None = None, pr_number: int | None = None
    ) -> list[DeployedVersion]:
        """The repo's deployments (of one name, or of one pull request), newest first."""
        query = select(Deployment).where(Deployment.repo == repo)
        if pr_number is not None:
            query = query.where(Deployment.pr_number == pr_number)
        if name is not None:
            query = query.where(Deployment.name == name)
        with self.database.sessions() as session:
            rows = session.scalars(query.order_by(Deployment.merged_at.desc(), Deployment.id.desc()))
            return [DeployedVersion.of(row) for row in rows]

    def set_status(self, deployment_id: int, status: str) -> None:
        with self.database.transaction() as session:
            row = session.get(Deployment, deployment_id)
            if row is not None:
                row.status = status
                row.updated_at = utcnow()

    def set_rollback_pull_request(self, deployment_id: int, number: int, url: str | None) -> None:
        with self.database.transaction() as session:
            row = session.get(Deployment, deployment_id)
            if row is not None:
                row.rollback_pr_number = number
                row.rollback_pr_url = url
                row.updated_at = utcnow()

    def rolled_back(
        self, *, repo: str, rollback_pr_number: int, actor: str, dry_run: bool
    ) -> DeployedVersion | None:
        """The revert pull request merged: its deployment is rolled back (audited). None when no
        deployment waits for that revert, or it was already closed."""
        with self.database.transaction() as session:
            row = session.scalar(
                select(Deployment)
                .where(Deployment.repo == repo, Deployment.rollback_pr_number == rollback_pr_number)
                .order_by(Deployment.id.desc())
            )
            if row is None or row.status == plans.ROLLED_BACK:
                return None
            row.status = plans.ROLLED_BACK
            row.rolled_back_at = utcnow()
            row.updated_at = utcnow()
            restored = row.previous_version or "its previous version"
            revert = pull_reference(repo, rollback_pr_number)
            record_action(
                session,
                kind="rollback.merged",
                actor=actor,
                repo=repo,
                target=f"{row.name}@{row.version}",
                summary=f"revert {revert} merged: {row.name} is back on {restored}",
                outcome="merged",
                dry_run=dry_run,
            )
            return DeployedVersion.of(row)

    # ----------------------------------------------------------------------- analyses

    def ended_analysis(self, analysis_id: int) -> EndedAnalysis | None:
        with self.database.sessions() as session:
            analysis = session.get(Analysis, analysis_id)
            deployment = None if analysis is None else session.get(Deployment, analysis.deployment_id)
            if analysis is None or deployment is None:
                return None
            rows = list(
                session.scalars(
                    select(AnalysisInterval)
                    .where(AnalysisInterval.analysis_id == analysis_id)
                    .order_by(AnalysisInterval.index)
                )
            )
            return EndedAnalysis(
                plan=AnalysisPlan.from_json(analysis.config),
                status=analysis.status,
                reason=analysis.reason or "",
                deployment_id=deployment.id,
                repo=deployment.repo,
                pr_number=deployment.pr_number,
                merge_commit_sha=deployment.merge_commit_sha,
                verdicts=tuple(row.verdict for row in rows),
                last_evidence=rows[-1].measurements if rows else {},
                intervals=_interval_evidence(rows),
            )


def _interval_evidence(rows: Sequence[AnalysisInterval]) -> list[dict[str, Any]]:
    return [
        {"index": row.index, "verdict": row.verdict, "at": row.at.isoformat(), **(row.measurements or {})}
        for row in rows
    ]


def _insert_deployment(session: Session, new: NewDeployment, now: datetime) -> Deployment:
    row = Deployment(
        repo=new.repo,
        name=new.name,
        version=new.version,
        previous_version=new.previous_version,
        pr_number=new.pr_number,
        pr_url=new.pr_url,
        merge_commit_sha=new.merge_commit_sha,
        merged_at=now,
        status=plans.ANALYSING if new.canary is not None else plans.RECORDED,
        details=dict(new.details),
        updated_at=now,
    )
    session.add(row)
    session.flush()  # the id, and the unique (repo, name, merge) check, now
    return row


def _supersede_older(session: Session, newer: Deployment, now: datetime) -> None:
    for older in session.scalars(
        select(Deployment).where(
            Deployment.repo == newer.repo,
            Deployment.name == newer.name,
            Deployment.id != newer.id,
            Deployment.status.in_((plans.ANALYSING, plans.PASSED, plans.RECORDED)),
        )
    ):
        older.status = plans.SUPERSEDED
        older.updated_at = now


def _first_analysis(plan: AnalysisPlan, deployment_id: int, now: datetime) -> Analysis:
    # With a readiness gate the first step polls the rollout at once; without, it measures a
    # full interval after the merge.
    waiting = plan.readiness is not None
    return Analysis(
        deployment_id=deployment_id,
        status="waiting_rollout" if waiting else "running",
        reason="waiting for the rollout" if waiting else "measuring",
        config=plan.to_json(),
        started_at=now,
        next_run_at=now if waiting else now + timedelta(seconds=plan.interval_seconds),
    )


def cancel_superseded(
    session: Session, *, repo: str, name: str, newer_id: int, now: datetime
) -> list[tuple[int, Any]]:
    """Cancel the running analyses of older deployments of the same name: only the newest version's
    canary means anything now. Returns (deployment id, plan json) of those cancelled."""
    rows = session.execute(
        select(Analysis.id, Analysis.deployment_id, Analysis.config)
        .join(Deployment, Deployment.id == Analysis.deployment_id)
        .where(
            Deployment.repo == repo,
            Deployment.name == name,
            Deployment.id != newer_id,
            Analysis.status.in_(plans.IN_PROGRESS_ANALYSIS),
        )
    ).all()
    for analysis_id, deployment_id, _config in rows:
        session.execute(
            update(Analysis)
            .where(Analysis.id == analysis_id, Analysis.status.in_(plans.IN_PROGRESS_ANALYSIS))
            .values(status="cancelled", reason="a newer version merged", finished_at=now, next_run_at=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(  # its traffic step in progress, if any, ends with it
            update(AnalysisStep)
            .where(
                AnalysisStep.analysis_id == analysis_id,
                AnalysisStep.status.in_(("writing", "rolling_out", "judging")),
            )
            .values(status="cancelled", reason="a newer version merged", finished_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Deployment)
            .where(Deployment.id == deployment_id, Deployment.status == plans.ANALYSING)
            .values(status=plans.SUPERSEDED, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return [(deployment_id, config) for _analysis_id, deployment_id, config in rows]


__all__ = ["DeployedVersion", "DeploymentStore", "EndedAnalysis", "NewDeployment", "cancel_superseded"]
