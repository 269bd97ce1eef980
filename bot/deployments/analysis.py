"""The analysis loop's steps: one interval measured, stored with its evidence, and decided.

Durable by construction: an analysis is a row with ``next_run_at``; which are due and which job
measures them is :mod:`bot.deployments.due_steps`. An interval and its verdict are written in a
transaction that locks the analysis row (an Alertmanager failure arriving at the same moment is
serialised behind it) and checks the index it was measured for, so a step measured twice is
stored once. After a restart the rows are still there and the next tick picks them up.

How an analysis ends (and its follow-up job) is :mod:`bot.deployments.analysis_end`; the
readiness gate that comes before measuring is :mod:`bot.deployments.readiness_gate`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
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
from bot.services import Services
from bot.storage.models import Analysis, AnalysisInterval, Deployment
from bot.storage.types import utcnow

log = structlog.get_logger("gitops_bot.deployments")

STEP_HANDLER = "deployments.analysis_step"

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
    result, evidence = measure_interval(
        services, plan, outcomes, index=count, first_on_step=first_on_step, now=now
    )
    append_intervals(services, [(analysis_id, expected_index, result, evidence)], isolated=False)


def measure_interval(
    services: Services,
    plan: AnalysisPlan,
    outcomes: Mapping[str, Any],
    *,
    index: int,
    first_on_step: int | None,
    now: datetime,
) -> tuple[IntervalResult, dict[str, Any]]:
    """Interval ``index`` judged from Prometheus's answers (``outcomes``, keyed by query), with
    the evidence to store."""
    result = evaluate_outcomes(plan.interval_queries(), outcomes, min_requests=plan.min_requests, at=now)
    # The statistical judge compares the samples of everything judged so far (this step's, with steps).
    judged_intervals = index - (first_on_step or 0) + 1
    result = judged(
        services, plan, result, outcomes, now=now, window_seconds=judged_intervals * plan.interval_seconds
    )
    return result, interval_evidence(services, plan, result, outcomes)


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
    return append_intervals(services, [(analysis_id, None, result, evidence)], isolated=False)[0]


MeasuredInterval = tuple[int, int | None, IntervalResult, dict[str, Any]]
"""(analysis id, the index it was measured for or None for the next one, result, evidence)."""


def append_intervals(
    services: Services, measured: Sequence[MeasuredInterval], *, isolated: bool = True
) -> list[Appended | None]:
    """Store each interval and apply its verdict, all in one transaction; notify after the commit.

    ``isolated``: each analysis gets a savepoint of its own, so one that fails (its row, its
    config) is rolled back, logged and measured again at the next tick while the others are kept;
    otherwise the error rolls everything back and reaches the caller (its job is retried). None
    for an interval not stored: the analysis ended, or an alert took the index it was measured for."""
    now = utcnow()
    appended: list[Appended | None] = []
    notes: list[tuple[AnalysisPlan, int, Appended, dict[str, Any], dict[str, Any]]] = []
    with services.database.transaction() as session:
        for analysis_id, expected_index, result, evidence in measured:
            arguments = (session, services, analysis_id, expected_index, result, evidence, now)
            if not isolated:
                stored = _append(*arguments)
            else:
                try:
                    with session.begin_nested():
                        stored = _append(*arguments)
                except Exception:
                    log.exception("deployments.interval_not_stored", analysis_id=analysis_id)
                    stored = None
            appended.append(stored[0] if stored else None)
            if stored:
                notes.append(stored[1])
    for note in notes:
        _notify_interval(services, *note)
    return appended


def _append(
    session: Session,
    services: Services,
    analysis_id: int,
    expected_index: int | None,
    result: IntervalResult,
    evidence: dict[str, Any],
    now: datetime,
) -> tuple[Appended, tuple[AnalysisPlan, int, Appended, dict[str, Any], dict[str, Any]]] | None:
    analysis = lock_analysis(session, services, analysis_id)
    if analysis is None or analysis.status not in plans.ACTIVE_ANALYSIS:
        return None
    plan = AnalysisPlan.from_json(analysis.config)
    history = _earlier_intervals(session, analysis_id)
    index = len(history)
    if expected_index is not None and expected_index != index:
        return None  # an alert's interval came first; the next tick measures this analysis again
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
    status = STEPPING if climbing else state.status
    appended = Appended(index, result.verdict, status, state.reason, state.finished and not climbing)
    return appended, (plan, analysis.deployment_id, appended, evidence, state.to_evidence())


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
    "append_intervals",
    "interval_evidence",
    "measure_interval",
    "record_alert",
    "run_step",
]
