"""What /metrics says about deployments and canaries: the bounds of a stored measurement, the series
of an interval, and the collector that exposes them (scraped, never set)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.deployments.gauges import bounds, canary_series, latest_measured
from bot.metrics import CanarySeries, DeploymentGauges, DeploymentSeries, Metrics


def measurement(**fields: Any) -> dict[str, Any]:
    return {"metric": "error_rate", "value": 0.1, "baseline_value": None, **fields}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"max": 0.05}, (0.05, None)),
        ({"min": 10}, (None, 10.0)),
        ({"min": 1, "max": 2}, (2.0, 1.0)),
        # The tighter of the absolute bound and the baseline ratio applies.
        ({"max": 0.5, "baseline_relative_max": 1.5, "baseline_value": 0.2}, (pytest.approx(0.3), None)),
        ({"max": 0.25, "baseline_relative_max": 1.5, "baseline_value": 0.2}, (0.25, None)),
        ({"baseline_relative_min": 0.9, "baseline_value": 100, "min": 50}, (None, 90.0)),
        # No baseline measured: only the absolute bound is known.
        ({"max": 0.5, "baseline_relative_max": 1.5}, (0.5, None)),
        ({"baseline_relative_max": 1.5}, (None, None)),
        ({}, (None, None)),  # informational
        ({"max": "0.5", "min": True}, (None, None)),  # not numbers: nothing to plot
    ],
)
def test_bounds(fields: dict[str, Any], expected: tuple[Any, Any]) -> None:
    assert bounds(measurement(**fields)) == expected


def test_an_interval_becomes_one_series_per_metric() -> None:
    evidence = {
        "source": "prometheus",
        "measurements": [
            measurement(value=0.2, max=0.05),
            measurement(metric="ttft_p95", value=None, baseline_value=0.4, baseline_relative_max=1.2),
            {"metric": None},  # not a measurement
            "junk",
        ],
    }
    assert canary_series("acme/gitops", "chat", "1.1.0", evidence) == (
        CanarySeries("acme/gitops", "chat", "1.1.0", "error_rate", 0.2, None, 0.05, None),
        CanarySeries("acme/gitops", "chat", "1.1.0", "ttft_p95", None, 0.4, pytest.approx(0.48), None),
    )
    assert canary_series("r", "d", "v", {}) == ()


def test_an_alerts_interval_does_not_hide_the_last_measured_one() -> None:
    measured = {"source": "prometheus", "index": 1, "measurements": []}
    alert = {"source": "alertmanager", "index": 2, "measurements": [{"metric": "alert:HighErrors"}]}
    assert latest_measured([{"source": "prometheus", "index": 0}, measured, alert]) is measured
    assert latest_measured([alert]) is None
    assert latest_measured([]) is None


GAUGES = DeploymentGauges(
    deployments=(
        DeploymentSeries("acme/gitops", "chat", "1.1.0", "analysing", 0),
        DeploymentSeries("acme/gitops", "embed", "2.0.0", "rolled_back", 3),
    ),
    canaries=(
        CanarySeries("acme/gitops", "chat", "1.1.0", "error_rate", 0.2, 0.01, 0.05, None),
        CanarySeries("acme/gitops", "chat", "1.1.0", "throughput", None, None, None, 90.0),
    ),
)


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("gitops_bot_")
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def test_the_collector_exposes_what_the_database_says_at_scrape_time() -> None:
    reads: list[int] = []

    def read() -> DeploymentGauges:
        reads.append(1)
        return GAUGES

    metrics = Metrics()
    metrics.watch_deployments(read)
    assert reads == []  # registering does not query the database
    chat = {"repo": "acme/gitops", "deployment": "chat", "version": "1.1.0"}
    assert samples(metrics) == {
        key("gitops_bot_deployment_info", **chat, state="analysing"): 1.0,
        key("gitops_bot_deployment_info", repo="acme/gitops", deployment="embed", version="2.0.0",
            state="rolled_back"): 1.0,
        key("gitops_bot_rollbacks_total", repo="acme/gitops", deployment="chat"): 0.0,
        key("gitops_bot_rollbacks_total", repo="acme/gitops", deployment="embed"): 3.0,
        key("gitops_bot_canary_value", **chat, metric="error_rate"): 0.2,
        key("gitops_bot_canary_baseline", **chat, metric="error_rate"): 0.01,
        key("gitops_bot_canary_threshold", **chat, metric="error_rate", bound="upper"): 0.05,
        # No value, no baseline, no upper bound for throughput: no series rather than a made-up number.
        key("gitops_bot_canary_threshold", **chat, metric="throughput", bound="lower"): 90.0,
    }  # fmt: skip
    assert reads == [1]
    # Every scrape reads again: a changed version or state leaves no series behind.
    samples(metrics)
    assert reads == [1, 1]


def test_an_unreachable_database_leaves_the_rest_of_the_scrape_intact() -> None:
    def broken() -> DeploymentGauges:
        raise ConnectionError("database down")

    metrics = Metrics()
    metrics.watch_deployments(broken)
    metrics.jobs_finished.labels("h", "done").inc()
    text = generate_latest(metrics.registry).decode()
    assert 'gitops_bot_jobs_finished_total{handler="h",outcome="done"} 1.0' in text
    assert "gitops_bot_deployment_info{" not in text
