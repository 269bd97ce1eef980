"""The metrics a canary is judged on when its deployment names none: vLLM's, by current series names.

Series (vLLM V1 engine, labels ``model_name`` and ``engine``; the Prometheus scrape adds
``instance``, ``job`` and, on Kubernetes, ``namespace``/``pod``/``service``):

* ``vllm:time_to_first_token_seconds`` histogram → time to first token, p99;
* ``http_requests_total{handler, method, status}`` from the OpenAI server's HTTP layer
  (prometheus-fastapi-instrumentator; vLLM keeps its default ``status="5xx"`` grouping, and
  ``status=~"5.."`` matches both that and exact codes such as ``503``) → error rate and the request
  count for the ``min_requests`` guard. ``vllm:request_success_total`` is not used: it counts
  *finished* requests by ``finished_reason``, not errors, and a canary failing with 500s would show
  no requests at all there and look inconclusive instead of failed;
* ``vllm:generation_tokens_total`` counter → generated tokens per second per replica, and the cost
  per million generated tokens;
* ``vllm:kv_cache_usage_perc`` gauge (0..1) → KV-cache usage; not the deprecated
  ``vllm:gpu_cache_usage_perc``.

Which series belong to the canary is the **selector**: label matchers inserted into every query
(a Jinja2 fragment with the same variables and escaping as any metric query). vLLM itself exports no
deployment or version label; they come from the scrape (relabelling pod labels, e.g. a PodMonitor's
``podTargetLabels``). The default matches the contract's example, ``deployment`` and ``version``.

Only time to first token (against the stable version) and the error rate decide by default.
Throughput, KV-cache usage and cost depend on how much traffic the canary receives, so they are
shown as evidence and decide only when a bound is configured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from string import Template
from typing import Any

from bot.canary.queries import QueryContext, QueryTemplateError, check_template, render_query
from bot.canary.verdict import MetricSpec

DEFAULT_SELECTOR = 'deployment="{{ deployment }}",version="{{ version }}"'
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

# ``${selector}``, ``${http_selector}`` and ``${replica_label}`` are filled in from the configuration
# first (string.Template: PromQL never uses ``$``), then Jinja2 fills ``{{ ... }}`` per interval.
_TTFT_P99 = (
    "histogram_quantile(0.99, sum by (le) "
    "(rate(vllm:time_to_first_token_seconds_bucket{${selector}}[{{ interval }}])))"
)
# ``or vector(0)``: with no 5xx series at all (a healthy canary) the ratio would be an empty
# result, i.e. "no data"; zero errors is data. No requests at all still gives no value (0/0).
_ERROR_RATE = (
    '(sum(rate(http_requests_total{${http_selector},status=~"5.."}[{{ interval }}])) or vector(0))'
    " / sum(rate(http_requests_total{${http_selector}}[{{ interval }}]))"
)
_REPLICAS = "count(group by (${replica_label}) (vllm:generation_tokens_total{${selector}}))"
_TOKENS_PER_SECOND = "sum(rate(vllm:generation_tokens_total{${selector}}[{{ interval }}]))"
_TOKENS_PER_SECOND_PER_REPLICA = f"{_TOKENS_PER_SECOND} / {_REPLICAS}"
_KV_CACHE_USAGE = "avg(avg_over_time(vllm:kv_cache_usage_perc{${selector}}[{{ interval }}]))"
_REQUEST_COUNT = "sum(increase(http_requests_total{${http_selector}}[{{ interval }}]))"
# Per replica and per scrape, for the statistical judge's samples (bot.canary.judge): ``irate`` takes
# the window's last two points and the judge's window is two scrapes, so one step's sample shares no
# request with the next one's. Time to first token is sampled as each replica's mean over the scrape
# (sum / count, exact), not a p99 of the few requests a scrape holds, which sits on a bucket bound;
# the p99's own shift is read over the whole window (the effect, see ``compare``).
_TTFT_P99_SAMPLES = (
    "sum by (${replica_label}) "
    "(irate(vllm:time_to_first_token_seconds_sum{${selector}}[{{ interval }}]))"
    " / sum by (${replica_label}) "
    "(irate(vllm:time_to_first_token_seconds_count{${selector}}[{{ interval }}]))"
)
_ERROR_RATE_SAMPLES = (
    '(sum by (${replica_label}) (irate(http_requests_total{${http_selector},status=~"5.."}[{{ interval }}]))'
    " or 0 * sum by (${replica_label}) (irate(http_requests_total{${http_selector}}[{{ interval }}])))"
    " / sum by (${replica_label}) (irate(http_requests_total{${http_selector}}[{{ interval }}]))"
)


@dataclass(frozen=True)
class VllmDefaults:
    """The default metrics and their bounds. Every field is a setting the operator may change."""

    selector: str = DEFAULT_SELECTOR
    """Label matchers for the deployment's vLLM (``vllm:*``) series at one version."""
    http_selector: str | None = None
    """Label matchers for its ``http_requests_total`` series; None: the same as ``selector``."""
    replica_label: str = "instance"
    """Label telling replicas apart (each scrape target is one vLLM server)."""
    error_rate_max: float | None = 0.01
    ttft_p99_max_seconds: float | None = None
    ttft_baseline_relative_max: float | None = 1.5
    tokens_per_second_min: float | None = None
    """Per replica; None: informational."""
    kv_cache_usage_max: float | None = None
    """0..1; None: informational."""
    gpu_price_per_hour: float | None = None
    """Price of one GPU for an hour; None: no cost metric."""
    gpus_per_replica: int = 1
    cost_per_million_tokens_max: float | None = None

    def __post_init__(self) -> None:
        if not _LABEL_NAME.fullmatch(self.replica_label):
            raise ValueError(f"replica_label {self.replica_label!r} is not a Prometheus label name")
        for name in (
            "error_rate_max",
            "ttft_p99_max_seconds",
            "ttft_baseline_relative_max",
            "tokens_per_second_min",
            "kv_cache_usage_max",
            "gpu_price_per_hour",
            "cost_per_million_tokens_max",
        ):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if self.gpus_per_replica < 1:
            raise ValueError(f"gpus_per_replica must be at least 1, got {self.gpus_per_replica}")
        if self.cost_per_million_tokens_max is not None and self.gpu_price_per_hour is None:
            raise ValueError("cost_per_million_tokens_max needs gpu_price_per_hour")
        for label, selector in (("selector", self.selector), ("http_selector", self.http_selector)):
            if selector is None:
                continue
            if not selector.strip() or "{" in selector.replace("{{", "").replace("}}", ""):
                raise ValueError(
                    f"{label} must be label matchers such as {DEFAULT_SELECTOR}, got {selector!r}"
                )
            try:
                check_template(f"up{{{selector}}}")
            except QueryTemplateError as exc:
                raise ValueError(f"{label}: {exc}") from exc

    # ------------------------------------------------------------------ templates

    def _fill(self, template: str) -> str:
        return Template(template).substitute(
            selector=self.selector,
            http_selector=self.http_selector if self.http_selector is not None else self.selector,
            replica_label=self.replica_label,
        )

    def request_count_query(self) -> str:
        """Template for the interval's request count (the ``min_requests`` guard), from the HTTP layer
        so that requests answered with an error count as requests."""
        return self._fill(_REQUEST_COUNT)

    def cost_query(self) -> str | None:
        """Cost per million generated tokens: price of the replicas' GPUs per hour over tokens per hour.

        ``gpu_price_per_hour x gpus_per_replica x replicas / (tokens per second x 3600) x 1e6``,
        evaluated in PromQL so the value in the evidence is the one Prometheus computed. No tokens
        gives +Inf, which the adapter reports as no value.
        """
        if self.gpu_price_per_hour is None:
            return None
        price = self.gpu_price_per_hour * self.gpus_per_replica
        return self._fill(f"{price!r} * {_REPLICAS} / ({_TOKENS_PER_SECOND} * 3600) * 1e6")

    def metric_specs(self) -> tuple[MetricSpec, ...]:
        specs = [
            MetricSpec(
                name="ttft_p99",
                query=self._fill(_TTFT_P99),
                max=self.ttft_p99_max_seconds,
                baseline_relative_max=self.ttft_baseline_relative_max,
                samples_query=self._fill(_TTFT_P99_SAMPLES),
            ),
            MetricSpec(
                name="error_rate",
                query=self._fill(_ERROR_RATE),
                max=self.error_rate_max,
                samples_query=self._fill(_ERROR_RATE_SAMPLES),
            ),
            MetricSpec(
                name="tokens_per_second_per_replica",
                query=self._fill(_TOKENS_PER_SECOND_PER_REPLICA),
                min=self.tokens_per_second_min,
            ),
            MetricSpec(
                name="kv_cache_usage",
                query=self._fill(_KV_CACHE_USAGE),
                max=self.kv_cache_usage_max,
            ),
        ]
        cost = self.cost_query()
        if cost is not None:
            specs.append(
                MetricSpec(name="cost_per_million_tokens", query=cost, max=self.cost_per_million_tokens_max)
            )
        return tuple(specs)

    # ------------------------------------------------------------------ documentation

    def markdown_table(self) -> str:
        """The defaults as a Markdown table (metric, PromQL template, bound), for the README."""
        rows = ["| metric | PromQL template | decides |", "| --- | --- | --- |"]
        for spec in self.metric_specs():
            query = spec.query.replace("|", "\\|")
            rows.append(f"| `{spec.name}` | `{query}` | {spec.threshold_text()} |")
        request_count = self.request_count_query().replace("|", "\\|")
        rows.append(f"| (request count, for `min_requests`) | `{request_count}` | guard only |")
        return "\n".join(rows)


def metric_specs_for(metrics: Sequence[Any], defaults: VllmDefaults) -> tuple[MetricSpec, ...]:
    """The deployment's own ``canary.metrics`` when it names any, else the vLLM defaults."""
    if metrics:
        return tuple(MetricSpec.from_config(metric) for metric in metrics)
    return defaults.metric_specs()


def example_render(defaults: VllmDefaults, context: QueryContext) -> dict[str, str]:
    """Every default query rendered for ``context``: what ``check-config`` or the docs can show."""
    rendered = {spec.name: render_query(spec.query, context) for spec in defaults.metric_specs()}
    rendered["request_count"] = render_query(defaults.request_count_query(), context)
    return rendered


def defaults_from_settings(settings: object) -> VllmDefaults:
    """The operator's vLLM defaults (``GITOPS_BOT_CANARY_*`` settings) over the built-in ones."""
    return VllmDefaults(
        selector=getattr(settings, "canary_selector", DEFAULT_SELECTOR),
        http_selector=getattr(settings, "canary_http_selector", None),
        replica_label=getattr(settings, "canary_replica_label", "instance"),
        gpu_price_per_hour=getattr(settings, "canary_gpu_price_per_hour", None),
        gpus_per_replica=getattr(settings, "canary_gpus_per_replica", 1),
    )
