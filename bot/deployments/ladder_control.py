"""A person acts on a climbing canary: ``/gitops pause``, ``/gitops resume``, ``/gitops promote``
(skip to the last rung), from a pull request comment or a Slack button.

Each answers with one sentence, audited as ``canary.pause``/``canary.resume``/``canary.promote``.
Whether the action is allowed is :mod:`bot.deployments.ladder` (``may_pause``, ``may_resume``,
``promote_to_last``); this module finds the analysis, changes it under its row lock, and tells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import record_action
from bot.deployments import ladder as ladders
from bot.deployments import plan as plans
from bot.deployments.analysis_end import lock_analysis
from bot.deployments.ladder import Advance
from bot.deployments.ladder_store import set_rung
from bot.deployments.plan import AnalysisPlan
from bot.deployments.step_notes import StepEvent, tell_control
from bot.deployments.stepping import queue_rung
from bot.storage.models import Analysis, AnalysisStep, Deployment
from bot.storage.types import utcnow

if TYPE_CHECKING:
    from bot.services import Services

Action = Literal["pause", "resume", "promote"]


@dataclass(frozen=True)
class Climbing:
    """The in-progress analysis a command acts on."""

    analysis_id: int
    deployment: str
    version: str
    pr_number: int | None


def climbing_canary(
    services: Services, *, repo: str, pr_number: int | None = None, deployment: str | None = None
) -> Climbing | None:
    """The newest analysis in progress with traffic steps, of the pull request's (or the named)
    deployment; None when there is none."""
    query = (
        select(Analysis.id, Deployment.name, Deployment.version, Deployment.pr_number)
        .join(Deployment, Deployment.id == Analysis.deployment_id)
        .where(
            Deployment.repo == repo,
            Analysis.status.in_(plans.IN_PROGRESS_ANALYSIS),
            Analysis.step.is_not(None),
        )
    )
    if pr_number is not None:
        query = query.where(Deployment.pr_number == pr_number)
    if deployment is not None:
        query = query.where(Deployment.name == deployment)
    with services.database.sessions() as session:
        row = session.execute(query.order_by(Analysis.id.desc())).first()
    return None if row is None else Climbing(int(row[0]), row[1], row[2], row[3])


@dataclass(frozen=True)
class Answer:
    """What the person is told, and whether the ladder changed (False: refused, with why)."""

    done: bool
    message: str


def act(services: Services, climbing: Climbing, action: Action, *, actor: str, from_comment: bool) -> Answer:
    """Pause, resume or promote the ladder; the sentence that answers the person."""
    now = utcnow()
    with services.database.transaction() as session:
        analysis = lock_analysis(session, services, climbing.analysis_id)
        if analysis is None or analysis.status not in plans.IN_PROGRESS_ANALYSIS or analysis.step is None:
            return Answer(
                False, f"The canary of {climbing.deployment} {climbing.version} is no longer in progress."
            )
        plan = AnalysisPlan.from_json(analysis.config)
        assert plan.ladder is not None
        what = f"{plan.deployment} {plan.version}"
        refusal, step, event = _change(session, services, analysis, plan, action, actor, now)
        if refusal is not None:
            return Answer(False, f"Not {_GERUND[action]} the canary of {what}: {refusal}.")
        label = plan.ladder.label(step)
        message = _MESSAGES[action].format(what=what, label=label, actor=actor)
        record_action(
            session, kind=f"canary.{action}", actor=actor, repo=plan.repo,
            target=f"{plan.deployment}@{plan.version}", summary=message, outcome=event,
            dry_run=services.dry_run, details={"analysis_id": analysis.id, "step": step + 1},
        )  # fmt: skip
    tell_control(services, plan, climbing.analysis_id, climbing.pr_number, step, event, by=actor,
                 comment=not from_comment)  # fmt: skip
    return Answer(True, message)


_GERUND = {"pause": "pausing", "resume": "resuming", "promote": "promoting"}
_MESSAGES = {
    "pause": "Paused the canary of {what} at {label} (by {actor}): no step is judged or committed "
    "until `/gitops resume`; `/gitops rollback` still works.",
    "resume": "Resumed the canary of {what} at {label} (by {actor}).",
    "promote": "Promoting the canary of {what} to {label} (by {actor}): its weight is being committed; "
    "the skipped steps are not judged.",
}


def _change(
    session: Session,
    services: Services,
    analysis: Analysis,
    plan: AnalysisPlan,
    action: Action,
    actor: str,
    now: datetime,
) -> tuple[str | None, int, StepEvent]:
    """(why not, or None; the rung the answer names; the event told)."""
    assert plan.ladder is not None and analysis.step is not None
    index = analysis.step
    if action == "pause":
        refusal = ladders.may_pause(analysis.status)
        if refusal is None:
            analysis.paused_status, analysis.status = analysis.status, ladders.PAUSED
            analysis.paused_by, analysis.next_run_at = actor, None
            analysis.reason = f"paused by {actor} at {plan.ladder.label(index)}"
        return refusal, index, "paused"
    if action == "resume":
        refusal = ladders.may_resume(analysis.status)
        if refusal is None:
            index = _resume(session, services, analysis, plan, actor, now)
        return refusal, index, "resumed"
    step = ladders.promote_to_last(plan.ladder, index, analysis.status)
    if isinstance(step, str):
        return step, index, "promoted"
    set_rung(session, analysis.id, index, "passed", now, reason=f"promoted by {actor}")
    queue_rung(session, services, analysis, plan.ladder, step, now, why=f"promoted by {actor}")
    return None, step.to, "promoted"


def _resume(
    session: Session, services: Services, analysis: Analysis, plan: AnalysisPlan, actor: str, now: datetime
) -> int:
    """Back to where the pause found the analysis; the rung it is on (or is committing)."""
    assert plan.ladder is not None and analysis.step is not None
    resumed = analysis.paused_status or "running"
    analysis.paused_status, analysis.paused_by = None, None
    if resumed == ladders.STEPPING:
        # The rung's commit was refused before: try it again.
        to = _writing_rung(session, analysis)
        queue_rung(session, services, analysis, plan.ladder, Advance(to), now, why=f"resumed by {actor}")
        return to
    analysis.status = resumed
    analysis.reason = f"resumed by {actor}"
    wait = 0 if resumed == "waiting_rollout" else plan.interval_seconds
    analysis.next_run_at = now + timedelta(seconds=wait)
    return analysis.step


def _writing_rung(session: Session, analysis: Analysis) -> int:
    found = session.scalar(
        select(AnalysisStep.index)
        .where(AnalysisStep.analysis_id == analysis.id, AnalysisStep.status == "writing")
        .order_by(AnalysisStep.index)
    )
    return int(found) if found is not None else (analysis.step or 0) + 1


__all__ = ["Action", "Answer", "Climbing", "act", "climbing_canary"]
