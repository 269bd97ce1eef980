"""The ``canary`` section of a deployment: how a merged update is analysed in Prometheus."""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.config.fields import (
    Duration,
    KeyPath,
    KubernetesDeploymentName,
    KubernetesNamespace,
    MetricName,
    NonEmpty,
    RelativePath,
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


class WeightTarget(StrictModel):
    """Where the canary's traffic percentage is written: a YAML ``key`` or a tfvars ``variable``
    (``bot.edits.paths`` syntax, as for targets). ``stable``, when given, is a second location in
    the same file that receives ``100 - weight``: the stable backend's share, for routers that weigh
    both backends (Gateway API ``HTTPRoute``, Istio ``VirtualService``)."""

    file: RelativePath
    key: KeyPath | None = None
    variable: KeyPath | None = None
    stable: KeyPath | None = None

    @model_validator(mode="after")
    def _one_location(self) -> WeightTarget:
        from bot.edits import file_kind

        if (self.key is None) == (self.variable is None):
            raise ValueError(
                "give exactly one of key (YAML files) or variable (.tfvars / .tfvars.json files)"
            )
        kind = file_kind(self.file)
        if kind is None:
            raise ValueError(
                f"{self.file}: only .yaml, .yml, .tfvars and .tfvars.json files can hold a weight"
            )
        if kind == "yaml" and self.key is None:
            raise ValueError(f"{self.file} is a YAML file: address the weight with key, not variable")
        if kind != "yaml" and self.variable is None:
            raise ValueError(f"{self.file} is a tfvars file: address the weight with variable, not key")
        if self.stable is not None and self.stable == self.location:
            raise ValueError("stable must name another location than the canary's weight")
        return self

    @property
    def location(self) -> str:
        return str(self.key if self.key is not None else self.variable)


class TrafficStep(StrictModel):
    """One rung of the ladder: ``weight`` percent of traffic to the canary, judged for ``duration``."""

    weight: int = Field(ge=1, le=100)
    duration: Duration | None = None


class Shadow(StrictModel):
    """A mirror stage before the canary: ``weight`` percent of requests copied to the new version
    (its answers are dropped), judged for ``duration``; for meshes that mirror (Istio, Gateway API
    ``RequestMirror``)."""

    weight_target: WeightTarget
    weight: int = Field(100, ge=1, le=100)
    duration: Duration = 1800

    @model_validator(mode="after")
    def _mirror_only(self) -> Shadow:
        if self.weight_target.stable is not None:
            raise ValueError("a mirror percentage has no stable share: remove weight_target.stable")
        return self


class Judge(StrictModel):
    """How intervals are judged: ``thresholds`` (the default) or ``mann_whitney`` (see bot.canary.judge)."""

    kind: Literal["thresholds", "mann_whitney"] = "thresholds"
    confidence: float = Field(0.95, ge=0.5, lt=1)
    """1 - the test's significance level: 0.95 fails a metric only when p < 0.05."""
    min_samples: int = Field(30, ge=5)
    """Fewer samples on either side: the test is inconclusive (the thresholds judge), never failed."""
    min_effect: float = Field(0.1, ge=0)
    """How much worse the canary's median must be to fail: 0.1 = 10% worse than the stable version's."""
    sample_step: Duration = 15
    """One sample per replica every this long (the scrape interval): the range queries' step."""

    @model_validator(mode="after")
    def _only_for_the_test(self) -> Judge:
        given = self.model_fields_set - {"kind"}
        if self.kind == "thresholds" and given:
            raise ValueError(f"{', '.join(sorted(given))} only apply to kind: mann_whitney")
        return self


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
    steps: tuple[TrafficStep, ...] = ()
    """Traffic steps, each written into ``weight_target`` as its own commit (see bot.deployments.ladder)."""
    weight_target: WeightTarget | None = None
    steps_via: Literal["pull_request", "push"] = "pull_request"
    """How a later step's weight reaches the default branch: a pull request the bot merges, or a push."""
    shadow: Shadow | None = None
    judge: Judge = Judge()

    @model_validator(mode="after")
    def _steps_consistent(self) -> Canary:
        if not self.steps:
            if self.shadow is not None:
                raise ValueError("shadow needs steps: after the shadow stage, traffic moves in steps")
            if self.weight_target is not None:
                raise ValueError("weight_target needs steps: the weights to write")
            if "steps_via" in self.model_fields_set:
                raise ValueError("steps_via needs steps")
            return self
        if self.weight_target is None:
            raise ValueError("steps need weight_target: the file and key the weight is written to")
        if "duration" in self.model_fields_set:
            raise ValueError("with steps, each step has its own duration: remove canary.duration")
        if self.shadow is not None and self.shadow.duration < self.interval:
            raise ValueError(
                f"shadow.duration ({format_duration(self.shadow.duration)}) is shorter than interval "
                f"({format_duration(self.interval)})"
            )
        weights = [step.weight for step in self.steps]
        if any(later <= earlier for earlier, later in pairwise(weights)):
            raise ValueError(f"step weights must increase: {', '.join(map(str, weights))}")
        if weights[-1] != 100:
            raise ValueError(f"the last step must send all traffic (weight: 100), not {weights[-1]}")
        for number, step in enumerate(self.steps, start=1):
            if step.duration is None:
                if number < len(self.steps):
                    raise ValueError(
                        f"step {number} (weight {step.weight}) needs a duration: how long it is judged"
                    )
                continue
            if step.duration < self.interval:
                raise ValueError(
                    f"step {number}'s duration ({format_duration(step.duration)}) is shorter than interval "
                    f"({format_duration(self.interval)})"
                )
        return self

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
