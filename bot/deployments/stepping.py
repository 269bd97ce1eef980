"""Climbing the traffic ladder: a rung passed → the next rung's weight committed → its rollout →
its judgement. The rules are :mod:`bot.deployments.ladder`; the rows :mod:`bot.deployments.ladder_store`.

Durable like the analysis loop. A rung that passes sets the analysis to ``stepping`` and queues
one ``deployments.canary_step`` job in the same transaction, under the analysis row lock (that
lock, not a dedupe key, makes it one job per move: a resume after a refused commit queues the
same rung again, so the key carries the time). The job commits the weight
(:mod:`bot.deployments.step_commit`) and lands the rung under the analysis row lock. A crash
between the commit and the landing re-runs the job, which finds the weight already in git (the
edit changes nothing), takes the branch's head as the rung's commit and lands it: nothing is
written twice. A step pull request that the bot could not merge pauses the ladder; when a
person merges it, :func:`step_merged` lands the rung and the canary goes on. After a restart the
rows say where the ladder stands.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.orm import Session

from bot.audit import record_action
from bot.deployments import ladder as ladders
from bot.deployments import plan as plans
from bot.deployments.analysis_end import end_analysis, lock_analysis
from bot.deployments.ladder import Advance, Complete, LadderPlan
from bot.deployments.ladder_store import LadderStore, interval_count, rung, set_rung
from bot.deployments.plan import AnalysisPlan
from bot.deployments.step_commit import StepCommit, StepRefused, commit_weight
from bot.deployments.step_notes import tell_step, tell_stuck
from bot.events.model import PullRequestChanged
from bot.notify import CanaryFinished
from bot.storage.models import Analysis, Deployment
from bot.storage.types import utcnow

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.deployments")

STEP_JOB_HANDLER = "deployments.canary_step"


# --------------------------------------------------------------------------- in the caller's transaction


def climb(
    session: Session, services: Services, analysis: Analysis, plan: AnalysisPlan, reason: str, now: datetime
) -> bool:
    """The current rung passed: queue the next rung's commit (True), or, on the last rung, leave
    the ending to the caller (False: the analysis passed)."""
    ladder, index = plan.ladder, analysis.step
    if ladder is None or index is None:
        return False
    step = ladders.after_pass(ladder, index)
    if isinstance(step, Complete):
        return False
    set_rung(session, analysis.id, index, "passed", now, reason=reason)
    queue_rung(session, services, analysis, ladder, step, now, why=f"{ladder.label(index)} passed")
    return True


def queue_rung(
    session: Session,
    services: Services,
    analysis: Analysis,
    ladder: LadderPlan,
    step: Advance,
    now: datetime,
    *,
    why: str,
) -> None:
    """Stop measuring and queue the commit of rung ``step.to`` (the skipped rungs marked so)."""
    for skipped in step.skipped:
        set_rung(session, analysis.id, skipped, "skipped", now, reason=why)
    set_rung(session, analysis.id, step.to, "writing", now)
    analysis.status = ladders.STEPPING
    analysis.paused_status = None
    analysis.next_run_at = None
    analysis.reason = f"{why}; committing {ladder.label(step.to)}"
    services.queue.enqueue(
        session,
        STEP_JOB_HANDLER,
        payload={"analysis_id": analysis.id, "to": step.to},
        dedupe_key=f"step:{analysis.id}:{step.to}:{int(now.timestamp() * 1000)}",
    )


def start_rung(
    session: Session, services: Services, analysis: Analysis, plan: AnalysisPlan, now: datetime
) -> str | None:
    """The rung's rollout is done (or there is no readiness gate): judge it, or, for a rung
    without a duration (the last), the analysis passed: then the reason, for
    :func:`announce_passed` once the transaction is committed."""
    ladder, index = plan.ladder, analysis.step
    if ladder is None or index is None or ladder.rungs[index].judged:
        if ladder is not None and index is not None:
            set_rung(session, analysis.id, index, "judging", now)
        analysis.status = "running"
        analysis.next_run_at = now + timedelta(seconds=plan.interval_seconds)
        return None
    deployment = session.get(Deployment, analysis.deployment_id)
    reason = f"{ladder.label(index)} reached: every step passed"
    end_analysis(session, services, analysis, deployment, plan, "passed", reason, now)
    return reason


def announce_passed(services: Services, plan: AnalysisPlan, deployment_id: int, reason: str) -> None:
    """The canary passed on reaching its last step (no interval ended it, so no interval says so)."""
    services.notifier.notify(
        CanaryFinished(
            repo=plan.repo, channel=plan.channel, dry_run=services.dry_run, deployment=plan.deployment,
            version=plan.version, deployment_id=deployment_id, status="passed", reason=reason,
            next_step=plans.next_step(plan, "passed").text,
        )
    )  # fmt: skip


# --------------------------------------------------------------------------- the job


def advance(services: Services, analysis_id: int, to: int) -> None:
    """Commit rung ``to``'s weight and land it; pause the ladder, saying why, when git refuses."""
    with services.database.sessions() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None or analysis.status != ladders.STEPPING:
            return
        deployment = session.get(Deployment, analysis.deployment_id)
        if deployment is None or deployment.status != plans.ANALYSING:
            return  # rolled back or superseded meanwhile: never write a weight over that
        plan = AnalysisPlan.from_json(analysis.config)
        pr_number = deployment.pr_number
    if plan.ladder is None:
        return
    if services.dry_run:
        log.info("deployments.step_dry_run", analysis_id=analysis_id, step=to)
        written: StepCommit | StepRefused = StepCommit(sha=None)
    else:
        written = commit_weight(services, plan, to)
    if isinstance(written, StepRefused):
        _stuck(services, analysis_id, plan, to, written)
        return
    land(services, analysis_id, to, written, by=plans.BOT_ACTOR)
    tell_step(services, plan, analysis_id, pr_number, to, written)


def land(services: Services, analysis_id: int, to: int, written: StepCommit, *, by: str) -> bool:
    """Rung ``to``'s weight is on the default branch: wait for its rollout, or judge it. False when
    the analysis has moved on (ended, or this rung landed already)."""
    now = utcnow()
    with services.database.transaction() as session:
        analysis = lock_analysis(session, services, analysis_id)
        waiting = analysis is not None and (
            analysis.status == ladders.STEPPING
            or (analysis.status == ladders.PAUSED and analysis.paused_status == ladders.STEPPING)
        )
        if analysis is None or not waiting:
            return False
        deployment = session.get(Deployment, analysis.deployment_id)
        if deployment is None or deployment.status != plans.ANALYSING:
            return False  # rolled back meanwhile: its weight is being reverted, not judged
        plan = AnalysisPlan.from_json(analysis.config)
        row = rung(session, analysis_id, to)
        if row is not None:
            row.commit_sha = written.sha or row.commit_sha
            row.pr_number = written.pr_number or row.pr_number
            row.pr_url = written.pr_url or row.pr_url
        analysis.step = to
        analysis.step_started_at = now
        analysis.step_first_interval = interval_count(session, analysis_id)
        analysis.paused_status = None
        assert plan.ladder is not None
        record_action(
            session, kind="canary.step", actor=by, repo=plan.repo, target=f"{plan.deployment}@{plan.version}",
            summary=f"{plan.deployment} {plan.version}: {plan.ladder.label(to)} committed"
            + (f" ({written.sha[:12]})" if written.sha else ""),
            outcome="committed", dry_run=services.dry_run,
            details={"analysis_id": analysis_id, "step": to + 1, "weight": plan.ladder.weight(to),
                     "commit_sha": written.sha, "pr_number": written.pr_number},
        )  # fmt: skip
        passed = None
        if plan.readiness is not None:
            set_rung(session, analysis_id, to, "rolling_out", now)
            analysis.status = "waiting_rollout"
            analysis.reason = f"{plan.ladder.label(to)}: waiting for the rollout"
            analysis.next_run_at = now
        else:
            analysis.reason = f"measuring {plan.ladder.label(to)}"
            passed = start_rung(session, services, analysis, plan, now)
        deployment_id = analysis.deployment_id
    if passed is not None:
        announce_passed(services, plan, deployment_id, passed)
    return True


def step_merged(services: Services, event: PullRequestChanged) -> None:
    """A person merged a step pull request the bot could not: the rung lands, the canary goes on."""
    if not event.merged or not event.merge_commit_sha:
        return
    found = LadderStore(services.database).step_pull(event.repo, event.number)
    if found is None:
        return
    written = StepCommit(sha=event.merge_commit_sha, pr_number=event.number, pr_url=event.html_url)
    if land(services, found.analysis_id, found.index, written, by=event.author):
        with services.database.sessions() as session:
            analysis = session.get(Analysis, found.analysis_id)
            deployment = None if analysis is None else session.get(Deployment, analysis.deployment_id)
            plan = None if analysis is None else AnalysisPlan.from_json(analysis.config)
        if plan is not None and deployment is not None:
            tell_step(services, plan, found.analysis_id, deployment.pr_number, found.index, written)


def _stuck(services: Services, analysis_id: int, plan: AnalysisPlan, to: int, refused: StepRefused) -> None:
    """The weight could not be committed: the ladder pauses where it is and people are told why."""
    assert plan.ladder is not None
    reason = f"could not commit {plan.ladder.label(to)}: {refused.reason}"
    with services.database.transaction() as session:
        analysis = lock_analysis(session, services, analysis_id)
        if analysis is None or analysis.status != ladders.STEPPING:
            return
        row = rung(session, analysis_id, to)
        if row is not None:
            row.pr_number = refused.pr_number or row.pr_number
            row.pr_url = refused.pr_url or row.pr_url
            row.reason = refused.reason
        analysis.status = ladders.PAUSED
        analysis.paused_status = ladders.STEPPING
        analysis.paused_by = plans.BOT_ACTOR
        analysis.reason = reason
        record_action(
            session, kind="canary.step", actor=plans.BOT_ACTOR, repo=plan.repo,
            target=f"{plan.deployment}@{plan.version}", summary=f"{plan.deployment} {plan.version}: {reason}",
            outcome="paused", dry_run=services.dry_run,
            details={"analysis_id": analysis_id, "step": to + 1, "pr_number": refused.pr_number},
        )  # fmt: skip
        deployment = session.get(Deployment, analysis.deployment_id)
        pr_number = deployment.pr_number if deployment is not None else None
    tell_stuck(services, plan, analysis_id, pr_number, to, refused)


__all__ = [
    "STEP_JOB_HANDLER",
    "advance",
    "announce_passed",
    "climb",
    "land",
    "queue_rung",
    "start_rung",
    "step_merged",
]
