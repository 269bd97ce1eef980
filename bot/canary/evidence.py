"""What a canary verdict is made of: metric specs, measurements, intervals and the analysis state.

Data only; ``bot.canary.verdict`` does the judging. Every piece keeps its evidence (value,
threshold, the stable version's value, the request count) and ``to_evidence()`` gives JSON-able
dicts for the API, the PR comment and Slack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

MeasurementStatus = Literal["pass", "fail", "inconclusive"]
IntervalVerdict = Literal["pass", "fail", "inconclusive"]
AnalysisStatus = Literal["running", "passed", "failed", "stopped_inconclusive"]


class Observation(Protocol):
    """A query answer: ``value`` is None when there is none, and ``error`` then says why.

    ``bot.adapters.prometheus.QueryOutcome`` is one; the verdict does not depend on the adapter.
    """

    @property
    def value(self) -> float | None: ...

    @property
    def error(self) -> str | None: ...


Observed = float | int | None | Observation
"""What a caller may hand in for one query: a number, None (no data), or an :class:`Observation`."""


class AnalysisConfig(Protocol):
    """The parts of ``bot.config.schema.Canary`` the decision reads (durations in seconds)."""

    @property
    def duration(self) -> int: ...

    @property
    def failure_limit(self) -> int: ...

    @property
    def inconclusive_limit(self) -> int: ...


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a canary analysis: a PromQL template and what its value must satisfy.

    ``min``/``max`` are absolute bounds. ``baseline_relative_max`` bounds the canary by the stable
    version's value (canary <= relative_max x baseline); ``baseline_relative_min`` is the mirror
    for metrics where lower is worse (throughput), used by the vLLM defaults only. A spec with no
    bound at all is *informational*: it is measured and shown, and never decides a verdict.
    """

    name: str
    query: str
    min: float | None = None
    max: float | None = None
    baseline_relative_max: float | None = None
    baseline_relative_min: float | None = None
    samples_query: str | None = None
    """Per replica, for the statistical judge (bot.canary.judge); None: ``query`` itself."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a metric needs a name")
        if not self.query.strip():
            raise ValueError(f"metric {self.name!r} has an empty query")
        for label, bound in (("min", self.min), ("max", self.max)):
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"metric {self.name!r}: {label} must be a finite number, got {bound!r}")
        for label, ratio in (
            ("baseline_relative_max", self.baseline_relative_max),
            ("baseline_relative_min", self.baseline_relative_min),
        ):
            if ratio is not None and not (math.isfinite(ratio) and ratio > 0):
                raise ValueError(f"metric {self.name!r}: {label} must be a positive number, got {ratio!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"metric {self.name!r}: min ({self.min}) is greater than max ({self.max})")

    @classmethod
    def from_config(cls, metric: Any) -> MetricSpec:
        """From a ``bot.config.schema.Metric`` (``name``, ``query``, ``min``, ``max``, ``baseline``)."""
        baseline = getattr(metric, "baseline", None)
        return cls(
            name=metric.name,
            query=metric.query,
            min=metric.min,
            max=metric.max,
            baseline_relative_max=None if baseline is None else baseline.relative_max,
        )

    @property
    def uses_baseline(self) -> bool:
        return self.baseline_relative_max is not None or self.baseline_relative_min is not None

    @property
    def informational(self) -> bool:
        return self.min is None and self.max is None and not self.uses_baseline

    def threshold_text(self) -> str:
        """Human-readable bounds, e.g. ``<= 0.2 and <= 1.5x baseline``."""
        parts: list[str] = []
        if self.min is not None:
            parts.append(f">= {number_text(self.min)}")
        if self.max is not None:
            parts.append(f"<= {number_text(self.max)}")
        if self.baseline_relative_min is not None:
            parts.append(f">= {number_text(self.baseline_relative_min)}x baseline")
        if self.baseline_relative_max is not None:
            parts.append(f"<= {number_text(self.baseline_relative_max)}x baseline")
        return " and ".join(parts) if parts else "none (informational)"


@dataclass(frozen=True)
class Measurement:
    """One metric in one interval, with everything needed to check the verdict by hand."""

    metric: str
    value: float | None
    threshold: str
    baseline_value: float | None
    sample_count: int | None
    status: MeasurementStatus
    reason: str
    informational: bool = False
    """Measured and shown, never part of the interval verdict (the spec has no bound)."""
    min: float | None = None
    max: float | None = None
    baseline_relative_max: float | None = None
    baseline_relative_min: float | None = None

    def to_evidence(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "min": self.min,
            "max": self.max,
            "baseline_relative_max": self.baseline_relative_max,
            "baseline_relative_min": self.baseline_relative_min,
            "baseline_value": self.baseline_value,
            "sample_count": self.sample_count,
            "status": self.status,
            "reason": self.reason,
            "informational": self.informational,
        }


@dataclass(frozen=True)
class IntervalResult:
    """One analysis interval: its measurements and the verdict they add up to."""

    index: int
    at: datetime | None
    measurements: tuple[Measurement, ...]
    request_count: int | None
    verdict: IntervalVerdict
    reason: str = ""

    def measurement(self, metric: str) -> Measurement | None:
        return next((item for item in self.measurements if item.metric == metric), None)

    @property
    def failing(self) -> tuple[Measurement, ...]:
        return tuple(item for item in self.measurements if item.status == "fail" and not item.informational)

    def to_evidence(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "at": None if self.at is None else self.at.isoformat(),
            "request_count": self.request_count,
            "verdict": self.verdict,
            "reason": self.reason,
            "measurements": [item.to_evidence() for item in self.measurements],
        }


@dataclass(frozen=True)
class AnalysisState:
    """Where an analysis stands after the intervals seen so far."""

    status: AnalysisStatus
    reason: str
    consecutive_failures: int
    inconclusive_count: int
    passed_count: int = 0
    failed_count: int = 0
    decided_by: int | None = None
    """Index of the interval that ended the analysis (failed / stopped), if one did."""

    @property
    def finished(self) -> bool:
        return self.status != "running"

    @property
    def needs_notification(self) -> bool:
        """Every ending is announced; an inconclusive stop in particular must never be silent."""
        return self.finished

    def to_evidence(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "consecutive_failures": self.consecutive_failures,
            "inconclusive_count": self.inconclusive_count,
            "passed_count": self.passed_count,
            "failed_count": self.failed_count,
            "decided_by": self.decided_by,
        }


def number_text(value: float) -> str:
    """A number as shown in evidence: six significant digits, no trailing zeros."""
    return f"{value:.6g}"
