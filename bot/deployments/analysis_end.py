"""The analysis row under lock, and how an analysis ends (shared by the loop and the readiness gate).

Ending an analysis enqueues one follow-up job (``finish:<analysis id>``) in the same transaction:
roll back, promote, or comment. So a crash between "failed" and "reverted" only delays the revert.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import record_action
from bot.deployments import plan as plans
from bot.deployments.ladder import StepStatus
from bot.deployments.ladder_store import set_rung
from bot.deployments.plan import AnalysisPlan
from bot.services import Services
from bot.storage.models import Analysis, Deployment

FINISH_HANDLER = "deployments.analysis_finished"

# Analysis status → Deployment status when the analysis ends.
_DEPLOYMENT_STATUS = {
    "passed": plans.PASSED,
    "failed": plans.FAILED,
    "stopped_inconclusive": plans.INCONCLUSIVE,
}


_RUNG_STATUS: dict[str, StepStatus] = {"passed": "passed", "failed": "failed"}


def lock_analysis(session: Session, services: Services, analysis_id: int) -> Analysis | None:
    statement = select(Analysis).where(Analysis.id == analysis_id)
    if services.database.is_postgres:
        statement = statement.with_for_update()
    return session.execute(statement).scalar_one_or_none()


def end_analysis(
    session: Session,
    services: Services,
    analysis: Analysis,
    deployment: Deployment | None,
    plan: AnalysisPlan,
    status: str,
    reason: str,
    now: datetime,
) -> None:
    """Record the end on both rows, audit it, and queue the follow-up in the same transaction."""
    analysis.status = status
    analysis.reason = reason
    analysis.finished_at = now
    analysis.next_run_at = None
    analysis.paused_status = None
    if analysis.step is not None:
        set_rung(session, analysis.id, analysis.step, _RUNG_STATUS.get(status, "stopped"), now, reason=reason)
    if deployment is not None and deployment.status == plans.ANALYSING:
        deployment.status = _DEPLOYMENT_STATUS.get(status, plans.INCONCLUSIVE)
        deployment.updated_at = now
    record_action(
        session,
        kind=f"canary.{status}",
        actor=plans.BOT_ACTOR,
        repo=plan.repo,
        target=f"{plan.deployment}@{plan.version}",
        summary=f"canary analysis of {plan.deployment} {plan.version} {status}: {reason}",
        outcome=status,
        dry_run=services.dry_run,
        details={"analysis_id": analysis.id, "deployment_id": analysis.deployment_id},
    )
    services.queue.enqueue(
        session,
        FINISH_HANDLER,
        payload={"analysis_id": analysis.id},
        dedupe_key=f"finish:{analysis.id}",
    )
