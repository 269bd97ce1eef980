"""The ``canary`` section of a deployment: how a merged update is analysed in Prometheus."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.config.fields import (
    Duration,
    KubernetesDeploymentName,
    KubernetesNamespace,
    MetricName,
    NonEmpty,
    StrictModel,
    format_duration,
)


class Baseline(StrictModel):
    relative_max: float = Field(gt=0)
    """The canary's value may be at most this multiple of the stable version's value."""


class Metric(StrictModel):
    name: MetricName
    query: NonEmpty
    """PromQL; ``{{ deployment }}``, ``{{ version }}`` and ``{{ interval }}`` are filled in."""
    min: float | None = None
    max: float | None = None
    baseline: Baseline | None = None

    @field_validator("query")
    @classmethod
    def _query_works(cls, query: str) -> str:
        from bot.canary.query_check import query_problem

        problem = query_problem(query)
        if problem is not None:
            raise ValueError(problem)
        return query

    @model_validator(mode="after")
    def _has_threshold(self) -> Metric:
        if self.min is None and self.max is None and self.baseline is None:
            raise ValueError("give at least one of min, max or baseline")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Readiness(StrictModel):
    """Wait for this Kubernetes Deployment's rollout before the first analysis interval."""

    namespace: KubernetesNamespace
    deployment: KubernetesDeploymentName
    timeout: Duration = 300


class RollbackSettings(StrictModel):
    automerge: bool = False


class Canary(StrictModel):
    interval: Duration = 60
    duration: Duration = 600
    failure_limit: int = Field(2, ge=1)
    """Consecutive failing intervals before the on_failure action."""
    min_requests: int = Field(1, ge=0)
    """An interval with fewer samples is inconclusive, not failed."""
    inconclusive_limit: int = Field(3, ge=1)
    """Consecutive inconclusive intervals after which the analysis stops and notifies."""
    metrics: tuple[Metric, ...] = ()
    readiness: Readiness | None = None
    on_failure: Literal["revert", "notify"] = "revert"
    rollback: RollbackSettings = RollbackSettings()

    @model_validator(mode="after")
    def _consistent(self) -> Canary:
        if self.duration < self.interval:
            raise ValueError(
                f"duration ({format_duration(self.duration)}) is shorter than interval "
                f"({format_duration(self.interval)})"
            )
        names = [metric.name for metric in self.metrics]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"metric names must be unique; repeated: {', '.join(repeated)}")
        return self

    @property
    def intervals(self) -> int:
        """How many analysis intervals fit in the duration."""
        return max(1, self.duration // self.interval)
