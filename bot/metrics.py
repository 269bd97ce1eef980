"""The bot's own Prometheus metrics, in a registry that belongs to one app instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


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


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
