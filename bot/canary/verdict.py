"""Canary verdicts: one interval's measurements judged against thresholds, and the analysis decided.

Pure: no I/O, no clock. The caller queries Prometheus (``bot.adapters.prometheus``), hands the values in,
and stores what comes out. Two rules the users rely on are pinned here:

* **No data is not bad data.** Too few requests, an empty query result, NaN, or an unreachable
  Prometheus make a measurement *inconclusive*; an inconclusive interval never counts towards a
  rollback. (Flagger counts a check without data as failed; we do not.)
* **Every verdict shows its evidence.** Each measurement keeps its value, its threshold, the
  stable version's value and the interval's request count; ``to_evidence()`` gives JSON-able dicts
  for the API, the PR comment and Slack.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
            parts.append(f">= {_number(self.min)}")
        if self.max is not None:
            parts.append(f"<= {_number(self.max)}")
        if self.baseline_relative_min is not None:
            parts.append(f">= {_number(self.baseline_relative_min)}x baseline")
        if self.baseline_relative_max is not None:
            parts.append(f"<= {_number(self.baseline_relative_max)}x baseline")
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


# --------------------------------------------------------------------------- one interval


def evaluate_interval(
    specs: Sequence[MetricSpec],
    values: Mapping[str, Observed],
    baseline_values: Mapping[str, Observed],
    request_count: Observed,
    min_requests: int,
    *,
    index: int = 0,
    at: datetime | None = None,
) -> IntervalResult:
    """Judge one interval.

    ``values`` and ``baseline_values`` map metric names to what the canary's and the stable
    version's queries returned (a missing key is "no data"). ``request_count`` is the interval's
    number of requests, for the ``min_requests`` guard (None: unknown; with ``min_requests`` 0
    the guard is off and an unknown count is fine).

    Verdict: below ``min_requests`` the interval is inconclusive whatever the values say (too few
    samples to blame the canary). Otherwise any failing metric fails it; else any metric that could
    not be decided makes it inconclusive; else it passes. Informational metrics do not take part.
    """
    if not specs:
        raise ValueError("an interval needs at least one metric to evaluate")
    if min_requests < 0:
        raise ValueError(f"min_requests must be >= 0, got {min_requests}")
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"metric names must be unique; repeated: {', '.join(repeated)}")

    count_value, count_problem = _unpack(request_count)
    sample_count = None if count_value is None else max(0, round(count_value))
    too_few: str | None = None
    if min_requests > 0:
        if sample_count is None:
            too_few = f"request count unknown ({count_problem}); needs at least {min_requests}"
        elif sample_count < min_requests:
            too_few = f"too few requests: {sample_count} < min_requests {min_requests}"

    measurements = tuple(
        _measure(spec, values.get(spec.name), baseline_values.get(spec.name), sample_count, too_few)
        for spec in specs
    )
    deciding = [item for item in measurements if not item.informational]
    failed = [item for item in deciding if item.status == "fail"]
    undecided = [item for item in deciding if item.status == "inconclusive"]
    verdict: IntervalVerdict
    if too_few is not None:
        verdict, reason = "inconclusive", too_few
    elif failed:
        verdict = "fail"
        reason = "; ".join(f"{item.metric}: {item.reason}" for item in failed)
    elif undecided:
        verdict = "inconclusive"
        reason = "; ".join(f"{item.metric}: {item.reason}" for item in undecided)
    elif deciding:
        verdict, reason = "pass", "every metric within its threshold"
    else:
        # Only informational metrics: nothing can judge the canary.
        verdict, reason = "inconclusive", "no metric has a threshold; nothing to decide on"
    return IntervalResult(
        index=index,
        at=at,
        measurements=measurements,
        request_count=sample_count,
        verdict=verdict,
        reason=reason,
    )


def _measure(
    spec: MetricSpec,
    observed: Observed,
    baseline_observed: Observed,
    sample_count: int | None,
    too_few: str | None,
) -> Measurement:
    value, problem = _unpack(observed)
    baseline_value, baseline_problem = _unpack(baseline_observed) if spec.uses_baseline else (None, None)

    def result(status: MeasurementStatus, reason: str) -> Measurement:
        return Measurement(
            metric=spec.name,
            value=value,
            threshold=spec.threshold_text(),
            baseline_value=baseline_value,
            sample_count=sample_count,
            status=status,
            reason=reason,
            informational=spec.informational,
            min=spec.min,
            max=spec.max,
            baseline_relative_max=spec.baseline_relative_max,
            baseline_relative_min=spec.baseline_relative_min,
        )

    if value is None:
        return result("inconclusive", f"no value: {problem}")
    if spec.informational:
        return result("pass", "informational: no threshold")
    if too_few is not None:
        # The value is kept as evidence, but too few samples can neither pass nor fail a canary.
        return result("inconclusive", too_few)

    violations: list[str] = []
    satisfied: list[str] = []
    if spec.min is not None:
        (violations if value < spec.min else satisfied).append(
            f"{_number(value)} {'<' if value < spec.min else '>='} min {_number(spec.min)}"
        )
    if spec.max is not None:
        (violations if value > spec.max else satisfied).append(
            f"{_number(value)} {'>' if value > spec.max else '<='} max {_number(spec.max)}"
        )
    undecided: list[str] = []
    if spec.uses_baseline:
        if baseline_value is None:
            undecided.append(
                f"baseline comparison inconclusive: stable version has no value ({baseline_problem})"
            )
        else:
            for ratio, is_upper in ((spec.baseline_relative_max, True), (spec.baseline_relative_min, False)):
                if ratio is None:
                    continue
                limit = ratio * baseline_value
                broken = value > limit if is_upper else value < limit
                relation = (">" if broken else "<=") if is_upper else ("<" if broken else ">=")
                (violations if broken else satisfied).append(
                    f"{_number(value)} {relation} {_number(ratio)}x baseline {_number(baseline_value)} "
                    f"(= {_number(limit)})"
                )

    # A failed check fails the metric even when another check could not be made. A missing baseline
    # makes only its own comparison inconclusive: when an absolute bound was checked and held, the
    # metric passes (with the gap stated), because the stable version is often scaled to zero after
    # a rollout and a baseline that cannot exist must not stall every analysis. With no other bound,
    # nothing was decided and the metric is inconclusive.
    if violations:
        return result("fail", "; ".join(violations + undecided))
    if satisfied:
        return result("pass", "; ".join(satisfied + undecided))
    return result("inconclusive", "; ".join(undecided))


def _unpack(observed: Observed) -> tuple[float | None, str | None]:
    """(value, why there is none). NaN and infinities are not values: they are no data."""
    if observed is None:
        return None, "no data"
    if isinstance(observed, bool):
        raise TypeError("a metric value must be a number, not a bool")
    if isinstance(observed, int | float):
        number, problem = float(observed), None
    else:
        raw = observed.value
        if raw is None:
            return None, observed.error or "no data"
        number, problem = float(raw), observed.error
    if not math.isfinite(number):
        return None, f"not a finite number ({number})"
    return number, problem


# --------------------------------------------------------------------------- the analysis


def decide(
    analysis_config: AnalysisConfig,
    intervals: Sequence[IntervalResult],
    elapsed_seconds: float,
) -> AnalysisState:
    """Where the analysis stands after ``intervals`` (in the order measured).

    * ``failure_limit`` **consecutive** failing intervals fail it (the on_failure action follows).
    * An inconclusive interval neither counts towards nor resets the failure streak. Flagger resets
      only on success; we do the same, and add that no-data never counts as a failure. Not resetting
      matters: fail, no-data, fail must still be two failures in a row, or a flapping exporter would
      hide a bad canary.
    * ``inconclusive_limit`` inconclusive intervals in total stop it as ``stopped_inconclusive``,
      which the caller must announce (``AnalysisState.needs_notification``).
    * Once ``duration`` has elapsed it passes, provided at least one interval passed and the last
      decided interval did not fail. If every interval was inconclusive it is ``stopped_inconclusive``,
      never passed. If the last decided interval failed (a streak below the limit), it keeps
      running: the next decided interval either clears the streak (passed) or extends it to the
      limit (failed), and the inconclusive limit bounds the wait.
    """
    failure_limit = analysis_config.failure_limit
    inconclusive_limit = analysis_config.inconclusive_limit
    if failure_limit < 1 or inconclusive_limit < 1:
        raise ValueError("failure_limit and inconclusive_limit must be at least 1")

    consecutive = inconclusive = passed = failed = 0
    for interval in intervals:
        if interval.verdict == "fail":
            consecutive += 1
            failed += 1
            if consecutive >= failure_limit:
                return AnalysisState(
                    status="failed",
                    reason=(
                        f"{consecutive} consecutive failing intervals (failure_limit {failure_limit}); "
                        f"last: {interval.reason}"
                    ),
                    consecutive_failures=consecutive,
                    inconclusive_count=inconclusive,
                    passed_count=passed,
                    failed_count=failed,
                    decided_by=interval.index,
                )
        elif interval.verdict == "pass":
            consecutive = 0
            passed += 1
        else:
            inconclusive += 1
            if inconclusive >= inconclusive_limit:
                return AnalysisState(
                    status="stopped_inconclusive",
                    reason=(
                        f"{inconclusive} inconclusive intervals (inconclusive_limit {inconclusive_limit}); "
                        f"last: {interval.reason}"
                    ),
                    consecutive_failures=consecutive,
                    inconclusive_count=inconclusive,
                    passed_count=passed,
                    failed_count=failed,
                    decided_by=interval.index,
                )

    def state(status: AnalysisStatus, reason: str) -> AnalysisState:
        return AnalysisState(
            status=status,
            reason=reason,
            consecutive_failures=consecutive,
            inconclusive_count=inconclusive,
            passed_count=passed,
            failed_count=failed,
        )

    if elapsed_seconds < analysis_config.duration:
        return state("running", f"{len(intervals)} intervals measured; duration not reached")
    if passed == 0:
        what = "no interval was measured" if not intervals else "no interval had enough data to decide"
        return state("stopped_inconclusive", f"duration reached but {what}")
    if consecutive > 0:
        return state(
            "running",
            f"duration reached but the last decided interval failed ({consecutive} of {failure_limit}); "
            "waiting for the next interval to decide",
        )
    return state(
        "passed",
        f"duration reached: {passed} passing, {failed} failing (never {failure_limit} in a row), "
        f"{inconclusive} inconclusive intervals",
    )


def _number(value: float) -> str:
    return f"{value:.6g}"
