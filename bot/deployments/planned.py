"""The analysis plan (pure): everything an analysis needs, fixed when it starts, rendered PromQL
included, as JSON for the ``analyses.config`` column, so a restart or a later config change never
alters a running analysis. Re-exported by :mod:`bot.deployments.plan`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bot.canary import (
    IntervalQueries,
    MetricSpec,
    QueryContext,
    RenderedMetric,
    VllmDefaults,
    metric_specs_for,
    render_interval_queries,
    render_query,
)
from bot.canary.judge import JudgeSettings, direction_of
from bot.config.schema import Canary, Deployment
from bot.deployments.ladder import LadderPlan, ladder_from_config


@dataclass(frozen=True)
class ReadinessPlan:
    namespace: str
    deployment: str
    timeout_seconds: int


@dataclass(frozen=True)
class PlannedMetric:
    name: str
    query: str
    baseline_query: str | None
    min: float | None = None
    max: float | None = None
    baseline_relative_max: float | None = None
    baseline_relative_min: float | None = None
    # The statistical judge's samples (bot.canary.judge); None without it, or without a direction.
    samples_query: str | None = None
    baseline_samples_query: str | None = None
    direction: str | None = None
    stable_query: str | None = None
    """The metric's query for the stable version (the statistical judge's effect size)."""

    def spec(self, template: str) -> MetricSpec:
        return MetricSpec(
            name=self.name,
            query=template,
            min=self.min,
            max=self.max,
            baseline_relative_max=self.baseline_relative_max,
            baseline_relative_min=self.baseline_relative_min,
        )


@dataclass(frozen=True)
class AnalysisPlan:
    """An analysis, fixed when it starts; stored as JSON in ``analyses.config``."""

    repo: str
    deployment: str
    version: str
    stable_version: str | None
    interval_seconds: int
    duration_seconds: int
    failure_limit: int
    inconclusive_limit: int
    min_requests: int
    on_failure: Literal["revert", "notify"]
    rollback_automerge: bool
    metrics: tuple[PlannedMetric, ...]
    request_count_query: str
    readiness: ReadinessPlan | None = None
    namespace: str | None = None
    promote_to: str | None = None
    channel: str | None = None
    installation_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    ladder: LadderPlan | None = None
    """The traffic steps (None: the whole duration at the weight the update wrote)."""
    judge: JudgeSettings = field(default_factory=JudgeSettings)

    # The protocol bot.canary.decide reads.
    @property
    def duration(self) -> int:
        return self.duration_seconds

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["metrics"] = [asdict(metric) for metric in self.metrics]
        data["extra"] = dict(self.extra)
        data["ladder"] = self.ladder.to_json() if self.ladder is not None else None
        data["judge"] = asdict(self.judge)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnalysisPlan:
        readiness = data.get("readiness")
        return cls(
            repo=data["repo"],
            deployment=data["deployment"],
            version=data["version"],
            stable_version=data.get("stable_version"),
            interval_seconds=int(data["interval_seconds"]),
            duration_seconds=int(data["duration_seconds"]),
            failure_limit=int(data["failure_limit"]),
            inconclusive_limit=int(data["inconclusive_limit"]),
            min_requests=int(data["min_requests"]),
            on_failure=data["on_failure"],
            rollback_automerge=bool(data["rollback_automerge"]),
            metrics=tuple(PlannedMetric(**metric) for metric in data["metrics"]),
            request_count_query=data["request_count_query"],
            readiness=ReadinessPlan(**readiness) if readiness else None,
            namespace=data.get("namespace"),
            promote_to=data.get("promote_to"),
            channel=data.get("channel"),
            installation_id=data.get("installation_id"),
            extra=dict(data.get("extra") or {}),
            ladder=LadderPlan.from_json(data["ladder"]) if data.get("ladder") else None,
            judge=JudgeSettings(**data["judge"]) if data.get("judge") else JudgeSettings(),
        )

    def interval_queries(self, *, hard_only: bool = False) -> IntervalQueries:
        """The rendered queries as ``bot.canary`` evaluates them (templates are not needed again);
        ``hard_only``: without the baseline bounds (the statistical judge replaces them)."""
        return IntervalQueries(
            metrics=tuple(
                RenderedMetric(
                    spec=_hard(metric.spec(metric.query)) if hard_only else metric.spec(metric.query),
                    query=metric.query,
                    baseline_query=None if hard_only else metric.baseline_query,
                )
                for metric in self.metrics
            ),
            request_count_query=self.request_count_query,
        )

    def queries(self) -> tuple[str, ...]:
        return self.interval_queries().queries()


def _hard(spec: MetricSpec) -> MetricSpec:
    return dataclasses.replace(spec, baseline_relative_max=None, baseline_relative_min=None)


def analysis_plan(
    *,
    repo: str,
    deployment: Deployment,
    canary: Canary,
    version: str,
    stable_version: str | None,
    defaults: VllmDefaults,
    channel: str | None = None,
    installation_id: int | None = None,
    shadow_problem: str | None = None,
) -> AnalysisPlan:
    """Render every query once, for the canary and (for baseline bounds) the stable version.
    ``shadow_problem``: why the configured shadow stage cannot run (it is then left out).

    Raises ``bot.canary.QueryTemplateError`` with the metric's name when a template is unusable.
    """
    readiness = canary.readiness
    namespace = readiness.namespace if readiness is not None else None
    specs = metric_specs_for(canary.metrics, defaults)
    context = QueryContext.create(
        deployment=deployment.name, version=version, interval=canary.interval, namespace=namespace
    )
    ladder = ladder_from_config(canary, shadow_problem=shadow_problem)
    judge = JudgeSettings(
        canary.judge.kind,
        canary.judge.confidence,
        canary.judge.min_samples,
        canary.judge.min_effect,
        canary.judge.sample_step,
    )
    request_count_template = defaults.request_count_query()
    rendered = render_interval_queries(
        specs, context, request_count_template=request_count_template, stable_version=stable_version
    )
    return AnalysisPlan(
        repo=repo,
        deployment=deployment.name,
        version=version,
        stable_version=stable_version,
        interval_seconds=canary.interval,
        duration_seconds=canary.duration if ladder is None else ladder.total_seconds,
        failure_limit=canary.failure_limit,
        inconclusive_limit=canary.inconclusive_limit,
        min_requests=canary.min_requests,
        on_failure=canary.on_failure,
        rollback_automerge=canary.rollback.automerge,
        metrics=tuple(_planned_metric(item, judge, context, stable_version) for item in rendered.metrics),
        judge=judge,
        request_count_query=rendered.request_count_query,
        readiness=(
            ReadinessPlan(readiness.namespace, readiness.deployment, readiness.timeout)
            if readiness is not None
            else None
        ),
        namespace=namespace,
        promote_to=deployment.promote.to if deployment.promote is not None else None,
        channel=channel,
        installation_id=installation_id,
        ladder=ladder,
    )


def _planned_metric(
    item: RenderedMetric, judge: JudgeSettings, context: QueryContext, stable_version: str | None
) -> PlannedMetric:
    return PlannedMetric(
        name=item.spec.name,
        query=item.query,
        baseline_query=item.baseline_query,
        min=item.spec.min,
        max=item.spec.max,
        baseline_relative_max=item.spec.baseline_relative_max,
        baseline_relative_min=item.spec.baseline_relative_min,
        **_samples(item.spec, judge, context, stable_version),
    )


def _samples(
    spec: MetricSpec, judge: JudgeSettings, context: QueryContext, stable_version: str | None
) -> dict[str, str | None]:
    """The statistical judge's per-replica samples queries for one metric, canary and stable: the
    template rendered with a window of two scrapes (a rate needs two points)."""
    direction = direction_of(spec)
    if not judge.statistical or direction is None or stable_version is None:
        return {}
    template = spec.samples_query or spec.query
    window = QueryContext.create(
        deployment=context.deployment,
        version=context.version,
        interval=2 * judge.sample_step_seconds,
        namespace=context.namespace,
    )
    return {
        "samples_query": render_query(template, window),
        "baseline_samples_query": render_query(template, window.for_version(stable_version)),
        "direction": direction,
        "stable_query": render_query(spec.query, context.for_version(stable_version)),
    }


__all__ = ["AnalysisPlan", "PlannedMetric", "ReadinessPlan", "analysis_plan"]
