"""The chart's Grafana dashboard ConfigMap and its alerts read what the bot exports, rendered by real
Helm (see test_helm_chart.py for how)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.metrics import DeploymentGauges, Metrics
from tests.support import grafana
from tests.support.requirements import require
from tests.unit.deploy.test_helm_chart import _helm, _kinds, _render

try:
    import promql_parser
except ImportError:  # pragma: no cover - the test extra installs it
    promql_parser = None


def _config_maps(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    return _kinds(_render(values)).get("ConfigMap", [])


def test_no_dashboard_by_default() -> None:
    assert _config_maps(None) == []


def test_the_dashboard_configmap_carries_the_dashboard_and_the_sidecars_label() -> None:
    (config_map,) = _config_maps({"grafana": {"dashboard": {"enabled": True}}})
    metadata = config_map["metadata"]
    assert metadata["name"] == "bot-gitops-bot-dashboard" and metadata["namespace"] == "ops"
    assert metadata["labels"]["grafana_dashboard"] == "1"
    assert metadata["labels"]["app.kubernetes.io/instance"] == "bot"
    assert "annotations" not in metadata
    assert list(config_map["data"]) == ["gitops-bot.json"]
    # Exactly the file users import by hand: Helm did not template it ({{deployment}} legends).
    assert json.loads(config_map["data"]["gitops-bot.json"]) == grafana.load()
    assert config_map["data"]["gitops-bot.json"] == grafana.DASHBOARD.read_text().strip()


def test_the_label_namespace_and_folder_annotation_are_configurable() -> None:
    dashboard = {
        "enabled": True,
        "namespace": "monitoring",
        "labels": {"grafana_dashboard": "gitops"},
        "annotations": {"grafana_folder": "GitOps"},
    }
    (config_map,) = _config_maps({"grafana": {"dashboard": dashboard}})
    metadata = config_map["metadata"]
    assert metadata["namespace"] == "monitoring"
    assert metadata["labels"]["grafana_dashboard"] == "gitops"
    assert metadata["annotations"] == {"grafana_folder": "GitOps"}


@pytest.mark.parametrize(
    "dashboard",
    [
        {"enabled": "yes"},
        {"labels": {"grafana_dashboard": 1}},
        {"namespace": "Not_A_Namespace"},
        {"folder": "GitOps"},
    ],
)
def test_the_schema_refuses_bad_dashboard_values(dashboard: dict[str, Any]) -> None:
    from helm_python.errors import HelmError

    chart = _helm()
    with pytest.raises(HelmError):
        chart.render({"grafana": {"dashboard": dashboard}}, name="bot", namespace="ops", is_install=True)


def test_the_alert_rules_read_only_series_the_bot_exports() -> None:
    require(promql_parser is not None, "promql-parser (pip install promql-parser)")
    metrics = Metrics()
    metrics.watch_queue(lambda: {"queued": 0})
    metrics.watch_deployments(DeploymentGauges)
    registered = grafana.exported_names(metrics.registry) | grafana.PROMETHEUS_OWN
    values = {"metrics": {"prometheusRule": {"enabled": True}}}
    (rule,) = _kinds(_render(values))["PrometheusRule"]
    exprs = [item["expr"] for group in rule["spec"]["groups"] for item in group["rules"]]
    assert exprs
    for expr in exprs:
        names = grafana.metric_names(expr)
        assert names and names <= registered, expr
