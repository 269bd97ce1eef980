"""The statistical judge's I/O: the samples of each compared metric, canary and stable, read from
Prometheus over the window judged so far; the decision is :mod:`bot.canary.judge`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.canary import IntervalResult, evaluate_outcomes
from bot.canary.judge import Comparison, combine, compare
from bot.canary.verdict import interval_verdict
from bot.deployments.plan import AnalysisPlan, PlannedMetric

if TYPE_CHECKING:
    from bot.adapters.prometheus import PrometheusQueries
    from bot.services import Services


def judged(
    services: Services,
    plan: AnalysisPlan,
    result: IntervalResult,
    outcomes: Mapping[str, Any],
    *,
    now: datetime,
    window_seconds: int,
) -> IntervalResult:
    """``result`` (the thresholds' verdict) as the statistical judge sees it, or unchanged when the
    plan's judge is ``thresholds`` or no metric can be compared."""
    compared = [metric for metric in plan.metrics if _comparable(metric)]
    if not plan.judge.statistical or not compared:
        return result
    window = max(window_seconds, plan.judge.sample_step_seconds)
    prometheus = services.prometheus()
    averaged = prometheus.query_many(
        [over_window(query, window, plan.judge.sample_step_seconds) for query in _window_queries(compared)],
        at=now,
    )
    comparisons = {
        metric.name: _compare(
            prometheus, plan, metric, now - timedelta(seconds=window), now, averaged, window
        )
        for metric in compared
    }
    hard_only = evaluate_outcomes(
        plan.interval_queries(hard_only=True),
        outcomes,
        min_requests=plan.min_requests,
        index=result.index,
        at=now,
    )
    return combine(result, hard_only, comparisons, interval_verdict)


def _comparable(metric: PlannedMetric) -> bool:
    return bool(metric.samples_query and metric.baseline_samples_query and metric.direction)


def over_window(query: str, window: int, step: int) -> str:
    """The metric's interval value averaged over the window (a subquery)."""
    return f"avg_over_time(({query})[{window}s:{step}s])"


def _window_queries(metrics: list[PlannedMetric]) -> list[str]:
    return [query for metric in metrics for query in (metric.query, metric.stable_query) if query]


def _compare(
    prometheus: PrometheusQueries,
    plan: AnalysisPlan,
    metric: PlannedMetric,
    start: datetime,
    end: datetime,
    averaged: Mapping[str, Any],
    window: int,
) -> Comparison:
    assert metric.samples_query and metric.baseline_samples_query and metric.direction
    step = plan.judge.sample_step_seconds
    canary = prometheus.query_samples(metric.samples_query, start=start, end=end, step_seconds=step)
    stable = prometheus.query_samples(metric.baseline_samples_query, start=start, end=end, step_seconds=step)
    problem = canary.error or stable.error
    if problem is not None:
        return Comparison(
            "inconclusive", f"samples unavailable: {problem}", len(canary.values), len(stable.values)
        )
    values = tuple(
        getattr(averaged.get(over_window(query, window, step)), "value", None) if query else None
        for query in (metric.query, metric.stable_query)
    )
    return compare(
        canary.values,
        stable.values,
        metric.direction,
        plan.judge,
        window_values=values,  # type: ignore[arg-type]
    )


__all__ = ["judged"]
