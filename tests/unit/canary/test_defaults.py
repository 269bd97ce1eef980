from __future__ import annotations

import re
from pathlib import Path

import pytest

import bot.canary
from bot.canary import MetricSpec, QueryContext, VllmDefaults, metric_specs_for, render_query
from bot.canary.defaults import example_render
from bot.config.schema import Canary

CONTEXT = QueryContext.create(deployment="chat-llm", version="1.2.0", interval=60, namespace="serving")


def rendered(defaults: VllmDefaults) -> dict[str, str]:
    return example_render(defaults, CONTEXT)


def test_default_metrics_and_what_decides() -> None:
    specs = {spec.name: spec for spec in VllmDefaults().metric_specs()}

    assert list(specs) == ["ttft_p99", "error_rate", "tokens_per_second_per_replica", "kv_cache_usage"]
    assert specs["ttft_p99"].baseline_relative_max == 1.5 and specs["ttft_p99"].max is None
    assert specs["error_rate"].max == 0.01 and not specs["error_rate"].uses_baseline
    assert specs["tokens_per_second_per_replica"].informational
    assert specs["kv_cache_usage"].informational


def test_default_queries_render_with_current_series_names() -> None:
    queries = rendered(VllmDefaults())
    everything = "\n".join(queries.values())

    assert queries["ttft_p99"] == (
        "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket"
        '{deployment="chat-llm",version="1.2.0"}[1m])))'
    )
    assert queries["error_rate"] == (
        '(sum(rate(http_requests_total{deployment="chat-llm",version="1.2.0",status=~"5.."}[1m])) '
        'or vector(0)) / sum(rate(http_requests_total{deployment="chat-llm",version="1.2.0"}[1m]))'
    )
    assert queries["kv_cache_usage"] == (
        'avg(avg_over_time(vllm:kv_cache_usage_perc{deployment="chat-llm",version="1.2.0"}[1m]))'
    )
    assert queries["request_count"] == (
        'sum(increase(http_requests_total{deployment="chat-llm",version="1.2.0"}[1m]))'
    )
    assert "gpu_cache_usage_perc" not in everything  # deprecated name
    assert "request_success_total" not in everything  # counts finished requests, not errors


@pytest.mark.parametrize(
    ("status", "matches"),
    [("5xx", True), ("503", True), ("500", True), ("2xx", False), ("404", False), ("5", False)],
)
def test_error_status_matcher_covers_grouped_and_exact_codes(status: str, matches: bool) -> None:
    # Prometheus anchors regex matchers: the whole label value must match.
    assert bool(re.fullmatch("5..", status)) is matches


def test_selectors_and_replica_label() -> None:
    defaults = VllmDefaults(
        selector='namespace="{{ namespace }}",app_kubernetes_io_version="{{ version }}",model_name="m"',
        http_selector='namespace="{{ namespace }}",app_kubernetes_io_version="{{ version }}"',
        replica_label="pod",
    )
    queries = rendered(defaults)

    assert (
        'vllm:kv_cache_usage_perc{namespace="serving",app_kubernetes_io_version="1.2.0",model_name="m"}'
        in (queries["kv_cache_usage"])
    )
    assert (
        'http_requests_total{namespace="serving",app_kubernetes_io_version="1.2.0"}'
        in queries["request_count"]
    )
    assert "count(group by (pod) (" in queries["tokens_per_second_per_replica"]


def test_cost_metric_only_with_a_price() -> None:
    assert "cost_per_million_tokens" not in rendered(VllmDefaults())
    defaults = VllmDefaults(gpu_price_per_hour=2.5, gpus_per_replica=2, cost_per_million_tokens_max=3.0)

    cost = rendered(defaults)["cost_per_million_tokens"]
    spec = defaults.metric_specs()[-1]
    assert cost.startswith("5.0 * count(group by (instance) (vllm:generation_tokens_total{")
    assert cost.endswith("[1m])) * 3600) * 1e6")
    assert spec.name == "cost_per_million_tokens" and spec.max == 3.0


def test_bounds_are_configurable() -> None:
    defaults = VllmDefaults(
        error_rate_max=0.05,
        ttft_p99_max_seconds=0.5,
        ttft_baseline_relative_max=None,
        tokens_per_second_min=50,
        kv_cache_usage_max=0.95,
    )
    specs = {spec.name: spec for spec in defaults.metric_specs()}

    assert specs["error_rate"].max == 0.05
    assert specs["ttft_p99"].max == 0.5 and not specs["ttft_p99"].uses_baseline
    assert specs["tokens_per_second_per_replica"].min == 50
    assert specs["kv_cache_usage"].max == 0.95


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replica_label": "not a label"}, "replica_label"),
        ({"error_rate_max": -0.1}, "error_rate_max"),
        ({"gpu_price_per_hour": float("nan")}, "gpu_price_per_hour"),
        ({"gpus_per_replica": 0}, "gpus_per_replica"),
        ({"cost_per_million_tokens_max": 1.0}, "needs gpu_price_per_hour"),
        ({"selector": ""}, "label matchers"),
        ({"selector": 'a="b"} or vector(1) or up{c="d"'}, "label matchers"),
        ({"selector": "version={{ version }}"}, "must be inside"),
        ({"selector": 'version="{{ vrsion }}"'}, "unknown variable"),
        ({"http_selector": 'version="{{ version }"'}, "http_selector"),
    ],
)
def test_bad_defaults_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VllmDefaults(**kwargs)  # type: ignore[arg-type]


def test_deployment_metrics_replace_the_defaults() -> None:
    canary = Canary.model_validate(
        {"metrics": [{"name": "p50", "query": 'lat{version="{{ version }}"}', "max": 1}]}
    )

    assert metric_specs_for(canary.metrics, VllmDefaults()) == (
        MetricSpec(name="p50", query='lat{version="{{ version }}"}', max=1),
    )
    assert metric_specs_for(Canary().metrics, VllmDefaults()) == VllmDefaults().metric_specs()


def test_every_default_query_passes_the_template_checks() -> None:
    defaults = VllmDefaults(gpu_price_per_hour=1.0)
    for spec in defaults.metric_specs():
        assert render_query(spec.query, CONTEXT)


def test_defaults_document_matches_the_code() -> None:
    document = Path(bot.canary.__file__).with_name("DEFAULTS.md").read_text(encoding="utf-8")

    assert VllmDefaults().markdown_table() in document
    assert VllmDefaults(gpu_price_per_hour=2.5).cost_query() in document
