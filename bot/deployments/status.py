"""What is deployed where, for ``/gitops status`` and Slack: the latest deployment of each
(repo, name), its analysis and verdicts, and the bot's open update pull requests for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import Analysis, AnalysisInterval, Deployment, UpdateRequest

if TYPE_CHECKING:
    from bot.services import Services


@dataclass(frozen=True)
class DeploymentStatus:
    repo: str
    name: str
    version: str
    previous_version: str | None
    status: str
    merged_at: datetime | None
    pr_number: int | None
    pr_url: str | None
    analysis_status: str | None = None
    analysis_reason: str | None = None
    verdicts: tuple[str, ...] = ()
    rollback_pr_url: str | None = None
    open_update_prs: tuple[tuple[str, str | None], ...] = field(default=())
    """(version, url) of the bot's open update pull requests for this deployment."""


def deployment_status(
    services: Services, *, repo: str | None = None, deployment: str | None = None
) -> list[DeploymentStatus]:
    """The latest deployment of each (repo, name), newest first, with its analysis and open updates."""
    with services.database.sessions() as session:
        return [_status_of(session, row) for row in _latest(session, repo=repo, deployment=deployment)]


def _latest(session: Session, *, repo: str | None, deployment: str | None) -> list[Deployment]:
    query = select(Deployment)
    if repo is not None:
        query = query.where(Deployment.repo == repo)
    if deployment is not None:
        query = query.where(Deployment.name == deployment)
    latest: dict[tuple[str, str], Deployment] = {}
    for row in session.scalars(query.order_by(Deployment.merged_at.desc(), Deployment.id.desc())):
        latest.setdefault((row.repo, row.name), row)
    return list(latest.values())


def _status_of(session: Session, row: Deployment) -> DeploymentStatus:
    analysis = session.scalar(
        select(Analysis).where(Analysis.deployment_id == row.id).order_by(Analysis.id.desc())
    )
    return DeploymentStatus(
        repo=row.repo,
        name=row.name,
        version=row.version,
        previous_version=row.previous_version,
        status=row.status,
        # SQLite hands back naive datetimes; they are UTC.
        merged_at=row.merged_at.replace(tzinfo=UTC) if row.merged_at.tzinfo is None else row.merged_at,
        pr_number=row.pr_number,
        pr_url=row.pr_url,
        analysis_status=analysis.status if analysis else None,
        analysis_reason=analysis.reason if analysis else None,
        verdicts=_verdicts(session, analysis),
        rollback_pr_url=row.rollback_pr_url,
        open_update_prs=_open_updates(session, row.repo, row.name),
    )


def _verdicts(session: Session, analysis: Analysis | None) -> tuple[str, ...]:
    if analysis is None:
        return ()
    return tuple(
        session.scalars(
            select(AnalysisInterval.verdict)
            .where(AnalysisInterval.analysis_id == analysis.id)
            .order_by(AnalysisInterval.index)
        )
    )


def _open_updates(session: Session, repo: str, name: str) -> tuple[tuple[str, str | None], ...]:
    rows = session.scalars(
        select(UpdateRequest).where(
            UpdateRequest.repo == repo, UpdateRequest.deployment == name, UpdateRequest.status == "open"
        )
    )
    return tuple((update.version, update.pr_url) for update in rows)


__all__ = ["DeploymentStatus", "deployment_status"]
