"""The bot's own Prometheus metrics, in a registry that belongs to one app instance.

Counters and histograms count what this process did. What the database knows (the queue, each
deployment's version and state, the canary's latest measurements, the rollbacks) is read at
scrape time by a collector, so every replica reports the same numbers and a restart loses
nothing; dashboards take ``max by (...)`` of those across replicas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

CANARY_LABELS = ["repo", "deployment", "version", "metric"]


@dataclass(frozen=True)
class DeploymentSeries:
    """One deployment name: its newest recorded version, that version's state, and how many of its
    versions were rolled back (a revert pull request opened) so far."""

    repo: str
    deployment: str
    version: str
    state: str
    rollbacks: int


@dataclass(frozen=True)
class CanarySeries:
    """One metric of a canary analysis as its latest measured interval left it. ``upper`` and
    ``lower`` are the bounds the value was judged against (baseline ratios already applied)."""

    repo: str
    deployment: str
    version: str
    metric: str
    value: float | None
    baseline: float | None = None
    upper: float | None = None
    lower: float | None = None

    @property
    def labels(self) -> list[str]:
        return [self.repo, self.deployment, self.version, self.metric]


@dataclass(frozen=True)
class DeploymentGauges:
    deployments: tuple[DeploymentSeries, ...] = ()
    canaries: tuple[CanarySeries, ...] = ()


class _QueueDepthCollector(Collector):
    """Reads job counts from the database at scrape time, so every replica reports the truth."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "gitops_bot_queue_depth", "Jobs in the durable queue by status.", labels=["status"]
        )
        try:
            counts = self._counts()
        except Exception:  # an unreachable database must not break the whole scrape
            return
        for status, count in sorted(counts.items()):
            family.add_metric([status], count)
        yield family


def _deployment_families() -> tuple[GaugeMetricFamily, CounterMetricFamily]:
    info = GaugeMetricFamily(
        "gitops_bot_deployment_info",
        "1 for each deployment's newest recorded version and its state (analysing, passed, failed, "
        "inconclusive, rolling_back, rolled_back, recorded).",
        labels=["repo", "deployment", "version", "state"],
    )
    rollbacks = CounterMetricFamily(
        "gitops_bot_rollbacks",
        "Versions of a deployment rolled back (a revert pull request opened), read from the database.",
        labels=["repo", "deployment"],
    )
    return info, rollbacks


def _canary_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    value = GaugeMetricFamily(
        "gitops_bot_canary_value",
        "The canary's value of an analysis metric in its latest measured interval.",
        labels=CANARY_LABELS,
    )
    threshold = GaugeMetricFamily(
        "gitops_bot_canary_threshold",
        "The bound the canary's value was judged against (bound=upper: fails above; bound=lower: "
        "fails below), with any baseline ratio applied.",
        labels=[*CANARY_LABELS, "bound"],
    )
    baseline = GaugeMetricFamily(
        "gitops_bot_canary_baseline",
        "The stable version's value of an analysis metric in the canary's latest measured interval.",
        labels=CANARY_LABELS,
    )
    return value, threshold, baseline


class _DeploymentCollector(Collector):
    """Deployments and canary analyses as the database has them, read at scrape time like the
    queue depth: the same series from every replica, rebuilt after any restart."""

    def __init__(self, read: Callable[[], DeploymentGauges]) -> None:
        self._read = read

    def describe(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        # Named here so that registering does not query the database (which may not be migrated yet).
        return [*_deployment_families(), *_canary_families()]

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        try:
            gauges = self._read()
        except Exception:  # an unreachable database must not break the whole scrape
            return
        info, rollbacks = _deployment_families()
        for item in gauges.deployments:
            info.add_metric([item.repo, item.deployment, item.version, item.state], 1)
            rollbacks.add_metric([item.repo, item.deployment], item.rollbacks)
        value, threshold, baseline = _canary_families()
        for series in gauges.canaries:
            if series.value is not None:
                value.add_metric(series.labels, series.value)
            if series.baseline is not None:
                baseline.add_metric(series.labels, series.baseline)
            for bound, number in (("upper", series.upper), ("lower", series.lower)):
                if number is not None:
                    threshold.add_metric([*series.labels, bound], number)
        yield from (info, rollbacks, value, threshold, baseline)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # process_cpu_seconds_total, process_resident_memory_bytes, process_start_time_seconds, ...:
        # the bot-health row of the Grafana dashboard (restarts, memory) reads them.
        ProcessCollector(registry=self.registry)
        self.webhook_requests = Counter(
            "gitops_bot_webhook_requests",
            "Webhook requests by source and outcome (accepted, duplicate, ignored, unauthorized, ...).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.webhook_latency = Histogram(
            "gitops_bot_webhook_duration_seconds",
            "Time to verify, store and answer a webhook.",
            ["source"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.events_stored = Counter(
            "gitops_bot_events_stored",
            "Events stored, by source and status (queued, ignored, duplicate).",
            ["source", "status"],
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "gitops_bot_job_duration_seconds",
            "Job run time by handler and outcome.",
            ["handler", "outcome"],
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.jobs_finished = Counter(
            "gitops_bot_jobs_finished",
            "Job attempts finished, by handler and outcome (done, retry, dead, lease_lost, cancelled).",
            ["handler", "outcome"],
            registry=self.registry,
        )
        self.drift_detected = Gauge(
            "gitops_bot_drift_detected",
            "1 when a project's last drift check planned changes on the default branch, else 0.",
            ["repo", "project"],
            registry=self.registry,
        )

    def watch_queue(self, counts: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_QueueDepthCollector(counts))

    def watch_deployments(self, read: Callable[[], DeploymentGauges]) -> None:
        self.registry.register(_DeploymentCollector(read))
