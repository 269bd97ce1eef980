"""Canary scenarios on a real Prometheus, without waiting: vLLM-shaped series for a stable and a
canary version, several replicas scraped every ``step`` seconds, written as OpenMetrics and
backfilled into a fresh TSDB (``running_prometheus(openmetrics=...)``). Each scenario is judged at
interval ends in the past, through the code the bot runs (``analysis_plan``, ``evaluate_outcomes``,
``bot.deployments.judging.judged``): the statistical judge's numbers in ``bench/judge.py`` and
``tests/integration/deployments/test_mann_whitney_judge.py`` come from here.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.adapters.prometheus import PrometheusQueries
from bot.canary import VllmDefaults, evaluate_outcomes
from bot.config import load_repo_config
from bot.deployments.judging import judged
from bot.deployments.plan import AnalysisPlan, analysis_plan

# vLLM's own time-to-first-token buckets (seconds).
BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    math.inf,
)
TTFT_SIGMA = 0.4  # lognormal spread of one request's time to first token


@dataclass(frozen=True)
class Traffic:
    """One version's traffic: requests per second over all replicas, how slow, how often failing."""

    rps: float = 5.0
    ttft_scale: float = 1.0
    error_ratio: float = 0.0
    ttft_median: float = 0.03
    """Seconds; with the spread, p99 = median x 2.5 (0.03 → 76 ms: between vLLM's 60 and 80 ms buckets)."""


@dataclass(frozen=True)
class Run:
    """One canary analysis: ``intervals`` intervals from ``start`` (Unix seconds)."""

    scenario: str
    version: str
    start: int
    intervals: int
    canary: Traffic
    stable: Traffic = Traffic()


@dataclass
class _Series:
    buckets: list[float] = field(default_factory=lambda: [0.0] * len(BUCKETS))
    ttft_sum: float = 0.0
    ok: float = 0.0
    errors: float = 0.0


def openmetrics(runs: Sequence[Run], *, interval: int, step: int, replicas: int, seed: int = 7) -> str:
    """Every run's series (canary ``run.version``, stable ``<version>-stable``), cumulative counters
    per replica sampled every ``step`` seconds, as OpenMetrics text."""
    rng = random.Random(seed)
    lines: dict[str, list[str]] = {"ttft": [], "http": []}
    for run in runs:
        end = run.start + run.intervals * interval
        for version, traffic in ((run.version, run.canary), (f"{run.version}-stable", run.stable)):
            for replica in range(replicas):
                _replica_lines(
                    lines,
                    rng,
                    version,
                    f"replica-{replica}",
                    traffic,
                    run.start - 2 * interval,
                    end,
                    step,
                    replicas,
                )
    return "".join(
        [
            "# TYPE vllm:time_to_first_token_seconds histogram\n",
            *lines["ttft"],
            "# TYPE http_requests counter\n",
            *lines["http"],
            "# EOF\n",
        ]
    )


def _replica_lines(
    lines: dict[str, list[str]], rng: random.Random, version: str, instance: str, traffic: Traffic,
    start: int, end: int, step: int, replicas: int,
) -> None:  # fmt: skip
    series = _Series()
    points: list[tuple[int, _Series]] = []
    per_step = traffic.rps / replicas * step
    for at in range(start, end + step, step):
        for _ in range(_poisson(rng, per_step)):
            if rng.random() < traffic.error_ratio:
                series.errors += 1
                continue
            ttft = rng.lognormvariate(math.log(traffic.ttft_median), TTFT_SIGMA) * traffic.ttft_scale
            series.ok += 1
            series.ttft_sum += ttft
            for index, bound in enumerate(BUCKETS):
                if ttft <= bound:
                    series.buckets[index] += 1
        points.append((at, _Series(list(series.buckets), series.ttft_sum, series.ok, series.errors)))
    labels = f'deployment="chat",version="{version}",instance="{instance}"'
    for index, bound in enumerate(BUCKETS):
        le = "+Inf" if math.isinf(bound) else repr(bound)
        lines["ttft"] += [
            f'vllm:time_to_first_token_seconds_bucket{{{labels},le="{le}"}} {p.buckets[index]:.0f} {at}\n'
            for at, p in points
        ]
    lines["ttft"] += [
        f"vllm:time_to_first_token_seconds_count{{{labels}}} {p.ok:.0f} {at}\n" for at, p in points
    ]
    lines["ttft"] += [
        f"vllm:time_to_first_token_seconds_sum{{{labels}}} {p.ttft_sum:.4f} {at}\n" for at, p in points
    ]
    for status, attribute in (("200", "ok"), ("500", "errors")):
        lines["http"] += [
            f'http_requests_total{{{labels},status="{status}"}} {getattr(p, attribute):.0f} {at}\n'
            for at, p in points
        ]


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: small means only (a few requests per replica per scrape)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def plan_for(run: Run, *, interval: int, judge: str, min_samples: int = 30, step: int = 15) -> AnalysisPlan:
    """The analysis the bot would start for ``run``: the vLLM defaults (time to first token against
    the stable version, error rate), judged by ``judge`` (``thresholds`` or ``mann_whitney``)."""
    judge_config = (
        f"{{kind: mann_whitney, confidence: 0.95, min_samples: {min_samples}, min_effect: 0.1, "
        f"sample_step: {step}s}}"
        if judge == "mann_whitney"
        else "{kind: thresholds}"
    )
    config = load_repo_config(
        "version: 1\ndeployments:\n  - name: chat\n"
        "    trigger: {image: {repository: registry.example.com/serving/chat}}\n"
        "    targets: [{file: values.yaml, key: image.tag}]\n"
        f"    canary: {{interval: {interval}s, duration: {run.intervals * interval}s, min_requests: 5, "
        f"judge: {judge_config}}}\n"
    )
    deployment = config.deployments[0]
    assert deployment.canary is not None
    return analysis_plan(
        repo="acme/gitops", deployment=deployment, canary=deployment.canary, version=run.version,
        stable_version=f"{run.version}-stable", defaults=VllmDefaults(replica_label="instance"),
    )  # fmt: skip


class _Prometheus:
    """What ``judged`` reads of the services: the Prometheus client."""

    def __init__(self, client: PrometheusQueries) -> None:
        self.client = client

    def prometheus(self) -> PrometheusQueries:
        return self.client


def verdicts(client: PrometheusQueries, run: Run, plan: AnalysisPlan) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each interval's verdict and evidence, judged at its end as the bot judges it."""
    services: Any = _Prometheus(client)
    for number in range(1, run.intervals + 1):
        now = datetime.fromtimestamp(run.start + number * plan.interval_seconds, tz=UTC)
        outcomes = client.query_many(plan.queries(), at=now)
        result = evaluate_outcomes(plan.interval_queries(), outcomes, min_requests=plan.min_requests, at=now)
        result = judged(
            services, plan, result, outcomes, now=now, window_seconds=number * plan.interval_seconds
        )
        yield result.verdict, result.to_evidence()


__all__ = ["BUCKETS", "Run", "Traffic", "openmetrics", "plan_for", "verdicts"]
