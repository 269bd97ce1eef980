"""deploy/grafana/gitops-bot.json: a Grafana dashboard whose every query reads series the bot exports.

Each PromQL expression (panel targets and template variables) is parsed by a real PromQL parser
(``promql-parser``, the Rust parser of the Prometheus grammar), and each metric name it selects
must be in the bot's own registry, built as ``bot.services`` builds it. That the queries also run
on a real Prometheus scraping a real bot is tests/integration/deploy/test_grafana_queries.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.metrics import DeploymentGauges, Metrics
from tests.support import grafana
from tests.support.requirements import require

try:
    import promql_parser
except ImportError:  # pragma: no cover - the test extra installs it
    promql_parser = None

GRAFANA_BUILT_INS = {"__rate_interval", "__interval", "__range"}


def _registered() -> set[str]:
    metrics = Metrics()
    metrics.watch_queue(lambda: {"queued": 0})
    metrics.watch_deployments(DeploymentGauges)
    return grafana.exported_names(metrics.registry)


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return grafana.load()


def test_the_chart_ships_the_same_dashboard_as_deploy_grafana() -> None:
    # Helm reads files inside the chart only; the copy there must not drift from the one users import.
    assert grafana.CHART_DASHBOARD.read_bytes() == grafana.DASHBOARD.read_bytes(), (
        f"copy {grafana.DASHBOARD.relative_to(grafana.ROOT)} to "
        f"{grafana.CHART_DASHBOARD.relative_to(grafana.ROOT)}"
    )


def test_it_is_a_dashboard_with_a_prometheus_datasource_variable(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "gitops-bot" and dashboard["title"] == "gitops-bot"
    assert dashboard["schemaVersion"] >= 36 and dashboard["id"] is None
    source = next(v for v in dashboard["templating"]["list"] if v["type"] == "datasource")
    assert (source["name"], source["query"]) == ("datasource", "prometheus")
    assert {"job", "repo", "deployment", "metric"} <= grafana.variables(dashboard)
    ids = [panel["id"] for panel in grafana.panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids repeat"


def test_every_panel_and_query_uses_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    # A fixed datasource uid would point nowhere in another Grafana.
    for panel in grafana.panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}", variable["name"]


def test_the_dashboard_shows_what_the_operators_asked_for(dashboard: dict[str, Any]) -> None:
    text = " ".join(query.expr for query in grafana.queries(dashboard))
    for needed in (
        "up{",  # bot health
        "gitops_bot_jobs_finished_total",
        "gitops_bot_queue_depth",
        "gitops_bot_webhook_duration_seconds_bucket",
        "gitops_bot_canary_value",
        "gitops_bot_canary_threshold",
        "gitops_bot_canary_baseline",
        "gitops_bot_deployment_info",
        "gitops_bot_rollbacks_total",
        "gitops_bot_drift_detected",
    ):
        assert needed in text, needed
    canary = next(p for p in grafana.panels(dashboard) if p["title"].startswith("Canary: "))
    assert canary["repeat"] == "metric"
    assert {"gitops_bot_canary_value", "gitops_bot_canary_threshold"} <= {
        name
        for target in canary["targets"]
        for name in grafana.metric_names(grafana.substitute(target["expr"]))
    }


def test_every_query_parses_and_reads_only_series_the_bot_exports(dashboard: dict[str, Any]) -> None:
    require(promql_parser is not None, "promql-parser (pip install promql-parser)")
    registered = _registered()
    defined = grafana.variables(dashboard) | GRAFANA_BUILT_INS
    found = grafana.queries(dashboard)
    assert len(found) >= 20
    for query in found:
        unknown_variables = grafana.referenced_variables(query.expr) - defined
        assert not unknown_variables, f"{query.where}: undefined {unknown_variables}"
        names = grafana.metric_names(grafana.substitute(query.expr))
        assert names, f"{query.where} selects no metric: {query.expr}"
        unknown = names - registered - grafana.PROMETHEUS_OWN
        assert not unknown, f"{query.where} reads {sorted(unknown)}, which the bot does not export"


@pytest.mark.parametrize(
    "expr",
    [
        "sum(rate(gitops_bot_webhook_requests[5m]))",  # the counter is scraped as ..._total
        "gitops_bot_canary_values",
        'max({__name__="gitops_bot_rollback_total"})',
    ],
)
def test_a_misspelt_metric_would_be_caught(expr: str) -> None:
    require(promql_parser is not None, "promql-parser (pip install promql-parser)")
    assert grafana.metric_names(expr) - _registered()


def test_a_query_that_is_not_promql_would_be_caught() -> None:
    require(promql_parser is not None, "promql-parser (pip install promql-parser)")
    with pytest.raises(ValueError):
        grafana.metric_names(grafana.substitute('sum by (le (rate(x{job=~"$job"}[$__rate_interval]))'))
