"""What ``/metrics`` says about deployments and their canaries, read from the rows at scrape time.

Read, never written: the rows belong to :mod:`bot.deployments.store`. Reading at scrape time (like
the queue depth) rather than setting gauges when an interval is recorded means every replica
reports the same series, a restarted replica reports them at once, and a version or state that
changed leaves no stale series behind.

Cardinality is bounded by the deployment names: one ``deployment_info`` and one ``rollbacks``
series per (repo, deployment), and canary series only for the current analysis of each name (the
one of its newest version) while it runs and for :data:`CANARY_SERIES_KEEP` after it ends. The
history stays in Prometheus; the series then stop.

:func:`canary_series` and :func:`bounds` are pure; :func:`read_gauges` does the reading.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.deployments import plan as plans
from bot.metrics import CanarySeries, DeploymentGauges, DeploymentSeries
from bot.storage.db import Database
from bot.storage.models import Analysis, AnalysisInterval, Deployment
from bot.storage.types import utcnow

CANARY_SERIES_KEEP = timedelta(hours=1)
"""How long an ended analysis's canary series stay: long enough to read the end on a dashboard
whose panels show the last value, short enough that finished analyses do not pile up."""

RECENT_INTERVALS = 8
"""The intervals read per analysis to find the last one Prometheus measured: alert intervals in a
row beyond that (the analysis has failed by then) leave its canary series out."""

# --------------------------------------------------------------------------- pure


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def bounds(measurement: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(upper, lower): the tightest bounds the stored measurement was judged against, a baseline
    ratio times the baseline's value included when the baseline was measured."""
    baseline = _number(measurement.get("baseline_value"))
    uppers = [_number(measurement.get("max"))]
    lowers = [_number(measurement.get("min"))]
    relative_max = _number(measurement.get("baseline_relative_max"))
    relative_min = _number(measurement.get("baseline_relative_min"))
    if baseline is not None and math.isfinite(baseline):
        uppers.append(None if relative_max is None else relative_max * baseline)
        lowers.append(None if relative_min is None else relative_min * baseline)
    upper = min((item for item in uppers if item is not None), default=None)
    lower = max((item for item in lowers if item is not None), default=None)
    return upper, lower


def canary_series(
    repo: str, deployment: str, version: str, evidence: Mapping[str, Any]
) -> tuple[CanarySeries, ...]:
    """The series of one stored interval (``analysis_intervals.measurements``)."""
    out: list[CanarySeries] = []
    for measurement in evidence.get("measurements") or ():
        if not isinstance(measurement, Mapping) or not isinstance(measurement.get("metric"), str):
            continue
        upper, lower = bounds(measurement)
        out.append(
            CanarySeries(
                repo=repo,
                deployment=deployment,
                version=version,
                metric=measurement["metric"],
                value=_number(measurement.get("value")),
                baseline=_number(measurement.get("baseline_value")),
                upper=upper,
                lower=lower,
            )
        )
    return tuple(out)


def latest_measured(intervals: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest interval Prometheus measured. An alert's interval (a failure counted when an
    Alertmanager alert fired) carries no metric values, so it does not hide the last ones."""
    for evidence in reversed(intervals):
        if isinstance(evidence, Mapping) and evidence.get("source") != "alertmanager":
            return evidence
    return None


# --------------------------------------------------------------------------- reading


def read_gauges(database: Database, now: datetime | None = None) -> DeploymentGauges:
    """Every deployment name's newest version, state and rollback count; the canary series of the
    analyses still running or ended within :data:`CANARY_SERIES_KEEP`."""
    now = now or utcnow()
    with database.sessions() as session:
        newest = _newest_deployments(session)
        canaries = _canaries(session, newest, now - CANARY_SERIES_KEEP)
    deployments = tuple(
        DeploymentSeries(row.repo, row.name, row.version, row.status, rollbacks)
        for row, rollbacks in newest.values()
    )
    return DeploymentGauges(deployments=deployments, canaries=canaries)


def _newest_deployments(session: Session) -> dict[int, tuple[Deployment, int]]:
    """{deployment id: (the newest row of its name, the name's rollback count)}."""
    # A rollback is counted when its revert pull request was opened; rows are never deleted, so
    # the count only grows, as a counter must.
    per_name = session.execute(
        select(func.max(Deployment.id), func.count(Deployment.rollback_pr_number)).group_by(
            Deployment.repo, Deployment.name
        )
    ).all()
    rollbacks = {newest_id: count for newest_id, count in per_name}
    if not rollbacks:
        return {}
    rows = session.scalars(select(Deployment).where(Deployment.id.in_(rollbacks)).order_by(Deployment.id))
    return {row.id: (row, int(rollbacks[row.id])) for row in rows}


def _canaries(
    session: Session, newest: Mapping[int, tuple[Deployment, int]], ended_since: datetime
) -> tuple[CanarySeries, ...]:
    if not newest:
        return ()
    # {newest analysis id: its deployment id}, for analyses running or ended recently.
    owners: dict[int, int] = {
        analysis_id: deployment_id
        for analysis_id, deployment_id in session.execute(
            select(func.max(Analysis.id), Analysis.deployment_id)
            .where(
                Analysis.deployment_id.in_(newest),
                or_(Analysis.status.in_(plans.ACTIVE_ANALYSIS), Analysis.finished_at >= ended_since),
            )
            .group_by(Analysis.deployment_id)
        )
    }
    chosen = set(owners)
    if not chosen:
        return ()
    intervals = _last_intervals(session, chosen)
    out: list[CanarySeries] = []
    for analysis_id in sorted(chosen):
        evidence = latest_measured(intervals[analysis_id])
        row, _rollbacks = newest[owners[analysis_id]]
        if evidence is not None:
            out.extend(canary_series(row.repo, row.name, row.version, evidence))
    return tuple(out)


def _last_intervals(session: Session, analysis_ids: set[int]) -> dict[int, list[Any]]:
    """{analysis id: the evidence of its last :data:`RECENT_INTERVALS` intervals, oldest first}: a
    scrape reads a few rows per analysis, however long it runs."""
    last = (
        select(AnalysisInterval.analysis_id, func.max(AnalysisInterval.index).label("last"))
        .where(AnalysisInterval.analysis_id.in_(analysis_ids))
        .group_by(AnalysisInterval.analysis_id)
        .subquery()
    )
    rows = session.execute(
        select(AnalysisInterval.analysis_id, AnalysisInterval.measurements)
        .join(last, last.c.analysis_id == AnalysisInterval.analysis_id)
        .where(AnalysisInterval.index > last.c.last - RECENT_INTERVALS)
        .order_by(AnalysisInterval.analysis_id, AnalysisInterval.index)
    )
    intervals: dict[int, list[Any]] = {analysis_id: [] for analysis_id in analysis_ids}
    for analysis_id, measurements in rows:
        intervals[analysis_id].append(measurements)
    return intervals


__all__ = [
    "CANARY_SERIES_KEEP",
    "RECENT_INTERVALS",
    "bounds",
    "canary_series",
    "latest_measured",
    "read_gauges",
]
