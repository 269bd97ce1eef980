"""What the Analysis page shows, decided from the stored rows: pure, no database, no templates.

An analysis's plan (``analyses.config``: the rendered queries and bounds, fixed when it started)
and its intervals' evidence become, per metric, the series of the chart (value, bound, baseline,
status and a Prometheus link per interval); the decision and what may be done next (roll back,
promote). The page (``bot.console.pages.analysis``) loads the rows and renders these; the JSON twin
adds the same series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from bot.console.charts import Bound, Chart, ChartPoint, PointStatus, Unit, metric_chart, metric_unit, number
from bot.deployments import plan as plans
from bot.deployments.ladder import LadderPlan, ladder_rows
from bot.deployments.plan import AnalysisPlan, PlannedMetric

STATUSES: dict[str, PointStatus] = {"pass": "pass", "fail": "fail", "inconclusive": "inconclusive"}


@dataclass(frozen=True)
class IntervalRecord:
    """One ``analysis_intervals`` row as read."""

    index: int
    at: datetime
    verdict: str
    request_count: float | None
    evidence: Mapping[str, Any]

    def measurement(self, metric: str) -> Mapping[str, Any] | None:
        found = [m for m in self.evidence.get("measurements") or () if isinstance(m, Mapping)]
        return next((m for m in found if m.get("metric") == metric), None)


@dataclass(frozen=True)
class SeriesPoint:
    index: int
    at: datetime
    value: float | None
    baseline: float | None
    status: PointStatus
    reason: str
    graph_url: str | None


@dataclass(frozen=True)
class MetricSeries:
    """One metric over the intervals: what its chart and its JSON show."""

    metric: PlannedMetric
    unit: Unit
    points: tuple[SeriesPoint, ...]
    bounds: tuple[Bound, ...]

    @property
    def informational(self) -> bool:
        return not self.bounds

    @property
    def has_baseline(self) -> bool:
        return any(point.baseline is not None for point in self.points)

    def chart(self) -> Chart:
        points = [
            ChartPoint(time_label(p.at), p.value, p.status, self.point_title(p), p.graph_url)
            for p in self.points
        ]
        baseline = [p.baseline for p in self.points] if self.has_baseline else None
        return metric_chart(points, self.bounds, baseline, name=self.metric.name, unit=self.unit)

    def point_title(self, point: SeriesPoint) -> str:
        value = "no value" if point.value is None else self.unit.text(point.value)
        words = {
            "pass": "passed",
            "fail": "FAILED",
            "inconclusive": "inconclusive",
            "missing": "not measured",
        }
        text = f"Interval {point.index + 1} at {time_label(point.at)} UTC: {value}, {words[point.status]}"
        if point.baseline is not None:
            text += f" (baseline {self.unit.text(point.baseline)})"
        if point.reason:
            text += f": {point.reason}"
        return text + (" (opens Prometheus)" if point.graph_url else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric.name,
            "unit": self.unit.title or None,
            "query": self.metric.query,
            "bounds": [
                {"direction": bound.direction, "text": bound.text, "values": list(bound.values)}
                for bound in self.bounds
            ],
            "points": [
                {
                    "index": point.index,
                    "at": point.at.isoformat(),
                    "value": point.value,
                    "baseline": point.baseline,
                    "status": point.status,
                    "reason": point.reason,
                    "graph_url": point.graph_url,
                }
                for point in self.points
            ],
        }


def time_label(at: datetime) -> str:
    return at.strftime("%H:%M:%S")


def web_link(url: object) -> str | None:
    """``url`` when it is an http(s) link; anything else (``javascript:``, a relative path from an
    alert's payload) is not linked."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _limits(metric: PlannedMetric, baseline: float | None) -> tuple[float | None, float | None]:
    """(upper, lower) limit of one interval: the absolute bound, or the baseline-relative one when
    it is stricter (the verdict checks both)."""
    uppers = [metric.max] if metric.max is not None else []
    lowers = [metric.min] if metric.min is not None else []
    if baseline is not None and metric.baseline_relative_max is not None:
        uppers.append(metric.baseline_relative_max * baseline)
    if baseline is not None and metric.baseline_relative_min is not None:
        lowers.append(metric.baseline_relative_min * baseline)
    return (min(uppers) if uppers else None), (max(lowers) if lowers else None)


def _bound_texts(metric: PlannedMetric, unit: Unit) -> tuple[str, str]:
    upper = [f"max {unit.text(metric.max)}"] if metric.max is not None else []
    lower = [f"min {unit.text(metric.min)}"] if metric.min is not None else []
    if metric.baseline_relative_max is not None:
        upper.append(f"{number(metric.baseline_relative_max)}x baseline")
    if metric.baseline_relative_min is not None:
        lower.append(f"{number(metric.baseline_relative_min)}x baseline")
    return " and ".join(upper), " and ".join(lower)


def metric_series(
    plan: AnalysisPlan, metric: PlannedMetric, intervals: Sequence[IntervalRecord], prometheus_url: str | None
) -> MetricSeries:
    """``prometheus_url``: the base of the graph links (None: the links stored with the evidence)."""
    points = []
    for interval in intervals:
        found = interval.measurement(metric.name)
        if found is None:  # an alert's interval, or one that could not be measured
            reason = str(interval.evidence.get("reason") or "")
            points.append(SeriesPoint(interval.index, interval.at, None, None, "missing", reason, None))
            continue
        query = str(found.get("query") or metric.query)
        link = (
            plans.graph_url(prometheus_url, query, at=interval.at, window_seconds=plan.interval_seconds)
            if prometheus_url
            else found.get("graph_url")  # the link stored with the evidence when it was measured
        )
        points.append(
            SeriesPoint(
                index=interval.index,
                at=interval.at,
                value=_number(found.get("value")),
                baseline=_number(found.get("baseline_value")),
                status=STATUSES.get(str(found.get("status")), "inconclusive"),
                reason=str(found.get("reason") or ""),
                graph_url=web_link(link),
            )
        )
    unit = metric_unit(metric.name, metric.query, [p.value for p in points] + [metric.max, metric.min])
    limits = [_limits(metric, point.baseline) for point in points]
    upper_text, lower_text = _bound_texts(metric, unit)
    bounds = []
    if upper_text:
        bounds.append(Bound("max", tuple(limit[0] for limit in limits), upper_text))
    if lower_text:
        bounds.append(Bound("min", tuple(limit[1] for limit in limits), lower_text))
    return MetricSeries(metric, unit, tuple(points), tuple(bounds))


def analysis_series(
    config: Mapping[str, Any], intervals: Sequence[IntervalRecord], prometheus_url: str | None = None
) -> list[MetricSeries]:
    """Every planned metric's series; none when the stored plan cannot be read."""
    try:
        plan = AnalysisPlan.from_json(config)
    except (KeyError, TypeError, ValueError):
        return []
    return [metric_series(plan, metric, intervals, prometheus_url) for metric in plan.metrics]


@dataclass(frozen=True)
class IntervalLine:
    """A row of the intervals table: the text alternative to the charts, with every link."""

    number: int
    at: datetime
    verdict: str
    request_count: float | None
    reason: str
    links: tuple[tuple[str, str], ...]  # (metric, graph link)


def interval_lines(series: Sequence[MetricSeries], intervals: Sequence[IntervalRecord]) -> list[IntervalLine]:
    lines = []
    for position, interval in enumerate(intervals):
        links = [
            (item.metric.name, link)
            for item in series
            if position < len(item.points) and (link := item.points[position].graph_url)
        ]
        alert = interval.evidence.get("alert")
        if isinstance(alert, Mapping) and (link := web_link(alert.get("generator_url"))):
            links.append((f"alert {alert.get('alertname', '')}".strip(), link))
        lines.append(
            IntervalLine(
                number=interval.index + 1,
                at=interval.at,
                verdict=interval.verdict if interval.verdict in STATUSES else "inconclusive",
                request_count=interval.request_count,
                reason=str(interval.evidence.get("reason") or ""),
                links=tuple(links),
            )
        )
    return lines


@dataclass(frozen=True)
class Decision:
    status: str
    reason: str
    next_step: str | None
    measured: int
    expected: int
    failed: int
    inconclusive: int

    @property
    def running(self) -> bool:
        return self.status in plans.IN_PROGRESS_ANALYSIS


def decision(
    config: Mapping[str, Any], status: str, reason: str | None, intervals: Sequence[IntervalRecord]
) -> Decision:
    try:
        plan: AnalysisPlan | None = AnalysisPlan.from_json(config)
    except (KeyError, TypeError, ValueError):
        plan = None
    expected = max(1, plan.duration_seconds // max(1, plan.interval_seconds)) if plan else len(intervals)
    step = plans.next_step(plan, status).text if plan is not None else None
    if not reason:
        reason = {
            "waiting_rollout": "waiting for the canary's rollout to be ready before measuring",
            "running": f"{len(intervals)} of {expected} intervals measured so far",
            "cancelled": "a newer version merged before this analysis finished",
        }.get(status, "")
    return Decision(
        status=status,
        reason=reason,
        next_step=step,
        measured=len(intervals),
        expected=expected,
        failed=sum(item.verdict == "fail" for item in intervals),
        inconclusive=sum(item.verdict == "inconclusive" for item in intervals),
    )


@dataclass(frozen=True)
class Actions:
    """Which buttons the page offers, and why one is missing."""

    rollback: bool
    rollback_note: str
    promote_to: str | None
    promote: bool
    promote_note: str


GONE = frozenset({plans.ROLLED_BACK, plans.ROLLING_BACK, plans.SUPERSEDED})


def actions(promote_to: str | None, deployment_status: str, has_rollback_pr: bool) -> Actions:
    """The same rules the commands apply (``rollback_decision``); offering a button that can only
    be refused would be a trap."""
    verdict = plans.rollback_decision(deployment_status, has_rollback_pr=has_rollback_pr)
    can_roll_back = verdict.verdict == "proceed" or (verdict.verdict == "resume" and not has_rollback_pr)
    if promote_to is None:
        promote, promote_note = False, "this deployment has no promote.to"
    elif deployment_status in GONE:
        promote, promote_note = False, f"this version is {deployment_status.replace('_', ' ')}"
    else:
        promote, promote_note = True, ""
    return Actions(can_roll_back, "" if can_roll_back else verdict.reason, promote_to, promote, promote_note)


__all__ = [
    "Actions",
    "Decision",
    "IntervalLine",
    "IntervalRecord",
    "MetricSeries",
    "SeriesPoint",
    "actions",
    "analysis_series",
    "decision",
    "interval_lines",
    "metric_series",
    "time_label",
    "web_link",
]


@dataclass(frozen=True)
class LadderLine:
    """One traffic step as the page shows it."""

    label: str
    traffic: str
    judged_for: str
    status: str
    commit: str | None
    pr_number: int | None
    pr_link: str | None
    reason: str | None


def ladder(config: Mapping[str, Any], rungs: Sequence[Mapping[str, Any]]) -> list[LadderLine]:
    """The traffic steps of the analysis, each with its weight, commit and status; [] without steps."""
    data = config.get("ladder")
    if not data:
        return []
    plan = LadderPlan.from_json(data)
    return [
        LadderLine(
            label=row["label"],
            traffic=f"{row['mirror']}% mirrored" if row["shadow"] else f"{row['weight']}%",
            judged_for=(
                f"{row['duration_seconds']} s"
                if row["duration_seconds"]
                else "not judged: reached once rolled out"
            ),
            status=str(row["status"]).replace("_", " "),
            commit=(row["commit_sha"] or "")[:12] or None,
            pr_number=row["pr_number"],
            pr_link=web_link(row["pr_url"]),
            reason=row["reason"],
        )
        for row in ladder_rows(plan, rungs)
    ]
