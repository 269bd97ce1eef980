"""The default vLLM queries, rendered and evaluated by a real Prometheus over backfilled series."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.adapters.prometheus import PrometheusQueries
from bot.canary import (
    IntervalResult,
    QueryContext,
    VllmDefaults,
    decide,
    evaluate_outcomes,
    render_interval_queries,
    render_query,
)
from bot.config.schema import Canary
from tests.integration.adapters.prometheus import dataset

pytestmark = pytest.mark.integration

INTERVAL = 60
MIN_REQUESTS = 50
DEFAULTS = VllmDefaults(gpu_price_per_hour=2.0)


def context(version: str) -> QueryContext:
    return QueryContext.create(
        deployment=dataset.DEPLOYMENT, version=version, interval=INTERVAL, namespace=dataset.NAMESPACE
    )


def measure(
    prometheus: PrometheusQueries,
    version: str,
    *,
    at: int = dataset.END,
    stable: str | None = dataset.STABLE,
    index: int = 0,
) -> IntervalResult:
    queries = render_interval_queries(
        DEFAULTS.metric_specs(),
        context(version),
        request_count_template=DEFAULTS.request_count_query(),
        stable_version=stable,
    )
    outcomes = prometheus.query_many(queries.queries(), at=at)
    return evaluate_outcomes(
        queries,
        outcomes,
        min_requests=MIN_REQUESTS,
        index=index,
        at=datetime.fromtimestamp(at, UTC),
    )


def value(result: IntervalResult, metric: str) -> float | None:
    measurement = result.measurement(metric)
    assert measurement is not None
    return measurement.value


def test_good_canary_passes_with_its_evidence(prometheus: PrometheusQueries) -> None:
    result = measure(prometheus, dataset.GOOD)

    assert result.verdict == "pass", result.reason
    assert result.request_count == round(10.01 * INTERVAL)
    ttft = result.measurement("ttft_p99")
    assert ttft is not None
    assert ttft.value == pytest.approx(dataset.FAST_P99)
    assert ttft.baseline_value == pytest.approx(dataset.FAST_P99)
    assert ttft.threshold == "<= 1.5x baseline"
    assert ttft.sample_count == result.request_count
    # Exact status codes (503) are matched by status=~"5..", like the grouped "5xx".
    assert value(result, "error_rate") == pytest.approx(0.01 / 10.01)
    assert value(result, "tokens_per_second_per_replica") == pytest.approx(420)
    assert value(result, "kv_cache_usage") == pytest.approx(0.45)
    assert value(result, "cost_per_million_tokens") == pytest.approx(2.0 / (420 * 3600) * 1e6)
    json.dumps(result.to_evidence())  # the evidence is JSON as it stands


def test_stable_version_replicas_are_counted(prometheus: PrometheusQueries) -> None:
    result = measure(prometheus, dataset.STABLE)

    assert result.verdict == "pass", result.reason
    assert value(result, "error_rate") == pytest.approx(0.02 / 10.02)  # grouped "5xx"
    assert value(result, "tokens_per_second_per_replica") == pytest.approx(400)  # 800 over 2 replicas
    assert value(result, "cost_per_million_tokens") == pytest.approx(2.0 * 2 / (800 * 3600) * 1e6)


def test_bad_canary_fails_on_latency_against_baseline_and_errors(prometheus: PrometheusQueries) -> None:
    result = measure(prometheus, dataset.BAD)

    assert result.verdict == "fail"
    ttft = result.measurement("ttft_p99")
    errors = result.measurement("error_rate")
    assert ttft is not None and errors is not None
    assert ttft.status == "fail" and ttft.value == pytest.approx(dataset.SLOW_P99)
    assert errors.status == "fail" and errors.value == pytest.approx(0.2)
    assert "max 0.01" in errors.reason
    # Informational metrics are measured and shown, but decide nothing.
    kv = result.measurement("kv_cache_usage")
    assert kv is not None and kv.informational and kv.value == pytest.approx(0.9)


def test_too_few_requests_is_inconclusive_even_with_bad_values(prometheus: PrometheusQueries) -> None:
    result = measure(prometheus, dataset.QUIET)

    assert result.verdict == "inconclusive"
    assert result.request_count == 30
    assert "too few requests: 30 < min_requests 50" in result.reason
    errors = result.measurement("error_rate")
    assert errors is not None and errors.value == pytest.approx(0.4) and errors.status == "inconclusive"


def test_canary_without_any_5xx_series_has_zero_errors_not_no_data(prometheus: PrometheusQueries) -> None:
    result = measure(prometheus, dataset.CLEAN)

    assert value(result, "error_rate") == 0.0
    assert result.verdict == "pass", result.reason


def test_unknown_version_is_inconclusive_never_failed(prometheus: PrometheusQueries) -> None:
    result = measure(prometheus, dataset.UNKNOWN)

    assert result.verdict == "inconclusive"
    assert result.request_count is None
    assert "request count unknown" in result.reason
    for measurement in result.measurements:
        assert measurement.value is None
        assert measurement.status == "inconclusive"
        assert "no data" in measurement.reason


def test_idle_canary_division_by_zero_is_no_value(prometheus: PrometheusQueries) -> None:
    queries = render_interval_queries(
        DEFAULTS.metric_specs(),
        context(dataset.IDLE),
        request_count_template=DEFAULTS.request_count_query(),
        stable_version=dataset.STABLE,
    )
    outcome = prometheus.query_scalar(queries.metrics[1].query, at=dataset.END)  # error_rate: 0 / 0

    assert outcome.value is None and outcome.kind == "not_finite"
    result = evaluate_outcomes(
        queries, prometheus.query_many(queries.queries(), at=dataset.END), min_requests=0
    )
    assert result.verdict == "inconclusive"


def test_missing_baseline_leaves_latency_inconclusive(prometheus: PrometheusQueries) -> None:
    result = measure(prometheus, dataset.GOOD, stable=dataset.UNKNOWN)

    ttft = result.measurement("ttft_p99")
    errors = result.measurement("error_rate")
    assert ttft is not None and errors is not None
    assert ttft.status == "inconclusive" and "stable version has no value" in ttft.reason
    assert errors.status == "pass"  # absolute thresholds still apply
    assert result.verdict == "inconclusive"


def test_a_hostile_version_string_stays_a_label_value(prometheus: PrometheusQueries) -> None:
    query = render_query(DEFAULTS.request_count_query(), context(dataset.ODD))
    outcome = prometheus.query_scalar(query, at=dataset.END)

    # It matched exactly the series whose version label is that string, and nothing was injected.
    assert outcome.kind == "ok", outcome.error
    assert outcome.value == pytest.approx(3 * INTERVAL)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (dataset.GOOD, "passed"),
        (dataset.BAD, "failed"),
        (dataset.QUIET, "stopped_inconclusive"),
        (dataset.UNKNOWN, "stopped_inconclusive"),
    ],
)
def test_whole_analysis_over_real_intervals(
    prometheus: PrometheusQueries, version: str, expected: str
) -> None:
    canary = Canary(interval=INTERVAL, duration=3 * INTERVAL, failure_limit=2, inconclusive_limit=3)
    starts = [dataset.END - 2 * INTERVAL, dataset.END - INTERVAL, dataset.END]
    intervals: list[IntervalResult] = []
    state = None
    for index, at in enumerate(starts):
        intervals.append(measure(prometheus, version, at=at, index=index))
        state = decide(canary, intervals, elapsed_seconds=(index + 1) * INTERVAL)
        if state.finished:
            break

    assert state is not None
    assert state.status == expected, state.reason
    assert state.needs_notification
    if expected == "failed":
        assert state.decided_by == 1  # the second failing interval in a row
