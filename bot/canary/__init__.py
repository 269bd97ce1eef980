"""Canary analysis: PromQL rendering, vLLM defaults and the pure verdict.

The I/O is in ``bot.adapters.prometheus``.
"""

from __future__ import annotations

from bot.canary.defaults import DEFAULT_SELECTOR, VllmDefaults, metric_specs_for
from bot.canary.queries import (
    IntervalQueries,
    QueryContext,
    QueryTemplateError,
    RenderedMetric,
    check_template,
    escape_label_value,
    evaluate_outcomes,
    prometheus_duration,
    render_interval_queries,
    render_query,
)
from bot.canary.verdict import (
    AnalysisState,
    IntervalResult,
    Measurement,
    MetricSpec,
    Observation,
    decide,
    evaluate_interval,
)

__all__ = [
    "DEFAULT_SELECTOR",
    "AnalysisState",
    "IntervalQueries",
    "IntervalResult",
    "Measurement",
    "MetricSpec",
    "Observation",
    "QueryContext",
    "QueryTemplateError",
    "RenderedMetric",
    "VllmDefaults",
    "check_template",
    "decide",
    "escape_label_value",
    "evaluate_interval",
    "evaluate_outcomes",
    "metric_specs_for",
    "prometheus_duration",
    "render_interval_queries",
    "render_query",
]
