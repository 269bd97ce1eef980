"""The analysis loop: due steps enqueued by the scheduler leader, one interval measured per step.

Durable by construction: an analysis is a row with ``next_run_at``; the leader's periodic task
enqueues a job per due step with the dedupe key ``analysis:<id>:<index>`` (so a second scheduler,
or the same one a tick later, cannot double a step), and the step writes its interval and the
verdict in one transaction that locks the analysis row (an Alertmanager failure arriving at the
same moment is serialised behind it). After a restart the rows are still there and the next tick
picks them up.

How an analysis ends (and its follow-up job) is :mod:`bot.deployments.analysis_end`; the
readiness gate that comes before measuring is :mod:`bot.deployments.readiness_gate`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.canary import AnalysisState, IntervalResult, decide, evaluate_outcomes
from bot.deployments import plan as plans
from bot.deployments.analysis_end import FINISH_HANDLER, end_analysis, lock_analysis
from bot.deployments.judging import judged
from bot.deployments.ladder import STEPPING, rung_config
from bot.deployments.ladder_store import interval_count
from bot.deployments.plan import AnalysisPlan
from bot.deployments.readiness_gate import readiness_step
from bot.deployments.stepping import climb
from bot.notify import CanaryFinished, CanaryInterval
from bot.queue import JobOffer
from bot.services import Services
from bot.storage.models import Analysis, AnalysisInterval, Deployment
from bot.storage.types import utcnow

log = structlog.get_logger("gitops_bot.deployments")

STEP_HANDLER = "deployments.analysis_step"

# --------------------------------------------------------------------------- scheduling


def step_dedupe_key(analysis_id: int, status: str, index: int, next_run_at: datetime) -> str:
    if status == "waiting_rollout":
        # Each readiness poll is its own step; its due time tells the polls apart.
        return f"analysis:{analysis_id}:rollout:{int(next_run_at.timestamp() * 1000)}"
    return f"analysis:{analysis_id}:{index}"


def enqueue_due_steps(services: Services, now: datetime | None = None) -> int:
    """Enqueue a step job for every analysis that is due; returns how many rows were offered.

    Run by the scheduler leader only. The insert ignores dedupe-key conflicts, so offering a step
    that is already queued (or done) is harmless.
    """
    now = now or utcnow()
    interval_count = (
        select(func.count(AnalysisInterval.id))
        .where(AnalysisInterval.analysis_id == Analysis.id)
        .scalar_subquery()
    )
    database = services.database
    with database.transaction() as session:
        due = session.execute(
            select(Analysis.id, Analysis.status, Analysis.next_run_at, interval_count)
            .where(Analysis.status.in_(plans.ACTIVE_ANALYSIS), Analysis.next_run_at <= now)
            .order_by(Analysis.next_run_at)
        ).all()
        if not due:
            return 0
        offers = [
            JobOffer(
                STEP_HANDLER,
                payload={"analysis_id": analysis_id, "index": count if status == "running" else None},
                dedupe_key=step_dedupe_key(analysis_id, status, count, next_run_at),
            )
            for analysis_id, status, next_run_at, count in due
        ]
        services.queue.offer_many(session, offers, now=now)
    return len(due)


# --------------------------------------------------------------------------- one step


def run_step(services: Services, analysis_id: int, expected_index: int | None = None) -> None:
    """Measure one interval (or poll the rollout), store it with its evidence, decide."""
    with services.database.sessions() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None or analysis.status not in plans.ACTIVE_ANALYSIS:
            return
        status = analysis.status
        plan = AnalysisPlan.from_json(analysis.config)
        count = interval_count(session, analysis_id)
        started_at = analysis.step_started_at or analysis.started_at  # a rung's rollout has its own timeout
        first_on_step = analysis.step_first_interval
    if status == "waiting_rollout":
        readiness_step(services, analysis_id, plan, started_at)
        return
    if expected_index is not None and expected_index != count:
        # An alert added an interval since this step was queued; the scheduler queues the next one.
        return
    now = utcnow()
    outcomes = services.prometheus().query_many(plan.queries(), at=now)
    result = evaluate_outcomes(plan.interval_queries(), outcomes, min_requests=plan.min_requests, at=now)
    # The statistical judge compares the samples of everything judged so far (this step's, with steps).
    judged_intervals = count - (first_on_step or 0) + 1
    result = judged(
        services, plan, result, outcomes, now=now, window_seconds=judged_intervals * plan.interval_seconds
    )
    evidence = interval_evidence(services, plan, result, outcomes)
    append_interval(services, analysis_id, result, evidence)


def interval_evidence(
    services: Services, plan: AnalysisPlan, result: IntervalResult, outcomes: Mapping[str, Any]
) -> dict[str, Any]:
    """The interval as stored and shown: each measurement with its query, baseline query, what
    Prometheus answered (or why not), and a link to the graph."""
    evidence = result.to_evidence()
    evidence["source"] = "prometheus"
    by_name = {metric.name: metric for metric in plan.metrics}
    prometheus_url = services.settings.prometheus_public_url or services.settings.prometheus_url
    for measurement in evidence["measurements"]:
        metric = by_name.get(measurement["metric"])
        if metric is None:
            continue
        measurement["query"] = metric.query
        measurement["baseline_query"] = metric.baseline_query
        answer = outcomes.get(metric.query)
        measurement["query_error"] = getattr(answer, "error", None)
        measurement["graph_url"] = plans.graph_url(
            prometheus_url, metric.query, at=result.at, window_seconds=plan.interval_seconds
        )
    count_answer = outcomes.get(plan.request_count_query)
    evidence["request_count_query"] = plan.request_count_query
    evidence["request_count_error"] = getattr(count_answer, "error", None)
    return evidence


@dataclasses.dataclass(frozen=True)
class Appended:
    index: int
    verdict: str
    status: str
    reason: str
    finished: bool


def append_interval(
    services: Services, analysis_id: int, result: IntervalResult, evidence: dict[str, Any]
) -> Appended | None:
    """Store one interval at the next index and apply the verdict; None when the analysis ended."""
    now = utcnow()
    with services.database.transaction() as session:
        analysis = lock_analysis(session, services, analysis_id)
        if analysis is None or analysis.status not in plans.ACTIVE_ANALYSIS:
            return None
        plan = AnalysisPlan.from_json(analysis.config)
        history = _earlier_intervals(session, analysis_id)
        index = len(history)
        result = dataclasses.replace(result, index=index)
        evidence = {**evidence, "index": index}
        session.add(_interval_row(analysis_id, result, evidence, now))
        history.append(result)
        state = _decide(plan, analysis, history)
        deployment = session.get(Deployment, analysis.deployment_id)
        # A passed rung with rungs above it is not the end: the ladder climbs.
        climbing = state.status == "passed" and climb(session, services, analysis, plan, state.reason, now)
        if state.finished and not climbing:
            end_analysis(session, services, analysis, deployment, plan, state.status, state.reason, now)
        elif not climbing and evidence.get("source") == "prometheus":
            analysis.next_run_at = _next_measurement(analysis.next_run_at or now, plan.interval_seconds, now)
        deployment_id = analysis.deployment_id
        status = STEPPING if climbing else state.status
        appended = Appended(index, result.verdict, status, state.reason, state.finished and not climbing)
        state_evidence = state.to_evidence()
    _notify_interval(services, plan, deployment_id, appended, evidence, state_evidence)
    return appended


def _decide(plan: AnalysisPlan, analysis: Analysis, history: list[IntervalResult]) -> AnalysisState:
    """Where the analysis stands. Elapsed time is counted in intervals, so a restart neither skips
    nor repeats any: the analysis gets duration / interval of them (a firing alert is one, a failed
    one). With traffic steps only the current rung's intervals count, against its own duration."""
    if plan.ladder is None or analysis.step is None:
        return decide(plan, history, elapsed_seconds=len(history) * plan.interval_seconds)
    on_rung = history[analysis.step_first_interval or 0 :]
    config = rung_config(
        plan.ladder,
        analysis.step,
        failure_limit=plan.failure_limit,
        inconclusive_limit=plan.inconclusive_limit,
    )
    return decide(config, on_rung, elapsed_seconds=len(on_rung) * plan.interval_seconds)


def _earlier_intervals(session: Session, analysis_id: int) -> list[IntervalResult]:
    """The stored intervals in order, as the decision reads them (verdict and request count)."""
    rows = session.execute(
        select(AnalysisInterval.index, AnalysisInterval.verdict, AnalysisInterval.request_count)
        .where(AnalysisInterval.analysis_id == analysis_id)
        .order_by(AnalysisInterval.index)
    ).all()
    return [
        IntervalResult(
            index=row.index,
            at=None,
            measurements=(),
            request_count=None if row.request_count is None else int(row.request_count),
            verdict=row.verdict,
        )
        for row in rows
    ]


def _interval_row(
    analysis_id: int, result: IntervalResult, evidence: dict[str, Any], now: datetime
) -> AnalysisInterval:
    return AnalysisInterval(
        analysis_id=analysis_id,
        index=result.index,
        at=result.at or now,
        verdict=result.verdict,
        request_count=result.request_count,
        measurements=evidence,
    )


def _next_measurement(planned: datetime, interval_seconds: float, now: datetime) -> datetime:
    """Keep the cadence; after downtime, measure a full interval from now instead."""
    following = planned + timedelta(seconds=interval_seconds)
    return following if following > now else now + timedelta(seconds=interval_seconds)


ALERT_REASON_PREFIX = "alert firing: "


def _notify_interval(
    services: Services,
    plan: AnalysisPlan,
    deployment_id: int,
    appended: Appended,
    evidence: dict[str, Any],
    state: dict[str, Any],
) -> None:
    common = {
        "repo": plan.repo,
        "channel": plan.channel,
        "dry_run": services.dry_run,
        "deployment": plan.deployment,
        "version": plan.version,
        "deployment_id": deployment_id,
    }
    if appended.verdict == "fail":
        services.notifier.notify(
            CanaryInterval(**common, index=appended.index, verdict="fail", evidence=evidence)
        )
    if appended.finished:
        services.notifier.notify(
            CanaryFinished(
                **common,
                status=appended.status,  # type: ignore[arg-type]
                reason=appended.reason,
                evidence={"state": state, "last_interval": evidence},
                next_step=plans.next_step(plan, appended.status).text,
            )
        )


# --------------------------------------------------------------------------- alerts


def record_alert(
    services: Services, *, labels: Mapping[str, str], alertname: str, summary: str, url: str | None
) -> list[int]:
    """A firing alert naming a deployment under analysis: a failed interval for each such analysis,
    at once. Returns the ids of the analyses it counted against."""
    name = labels.get("deployment")
    if not name:
        return []
    with services.database.sessions() as session:
        candidates = session.execute(
            select(Analysis.id, Deployment.version)
            .join(Deployment, Deployment.id == Analysis.deployment_id)
            .where(Deployment.name == name, Analysis.status.in_(plans.ACTIVE_ANALYSIS))
        ).all()
    counted: list[int] = []
    now = utcnow()
    for analysis_id, version in candidates:
        if not plans.alert_matches(labels, deployment=name, version=version):
            continue
        reason = f"{ALERT_REASON_PREFIX}{alertname}" + (f" ({summary})" if summary else "")
        result = IntervalResult(
            index=0, at=now, measurements=(), request_count=None, verdict="fail", reason=reason
        )
        evidence = result.to_evidence()
        evidence.update(
            source="alertmanager",
            alert={"alertname": alertname, "labels": dict(labels), "summary": summary, "generator_url": url},
            measurements=[
                {
                    "metric": f"alert:{alertname}",
                    "value": None,
                    "threshold": "no firing alert",
                    "status": "fail",
                    "reason": reason,
                    "informational": False,
                    "sample_count": None,
                    "baseline_value": None,
                    "graph_url": url,
                }
            ],
        )
        if append_interval(services, analysis_id, result, evidence) is not None:
            counted.append(analysis_id)
    return counted


__all__ = [
    "ALERT_REASON_PREFIX",
    "FINISH_HANDLER",
    "STEP_HANDLER",
    "Appended",
    "append_interval",
    "enqueue_due_steps",
    "interval_evidence",
    "record_alert",
    "run_step",
    "step_dedupe_key",
]
