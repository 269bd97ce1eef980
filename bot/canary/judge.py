"""The statistical judge (pure): the canary's samples against the stable version's, per metric.

``canary.judge: {kind: mann_whitney, confidence: 0.95, min_samples: 30, min_effect: 0.1}``. For
each metric that has a direction of harm (below), the samples of the canary and of the stable
version over the same window are compared with a one-sided Mann-Whitney U test in that direction
(``scipy.stats.mannwhitneyu``). A metric **fails** when the difference is significant (p below
``1 - confidence``) *and* large: the canary's median is at least ``min_effect`` (0.1 = 10%) worse
than the stable version's, so a significant but negligible difference passes. Fewer than
``min_samples`` samples on either side is **inconclusive** for the test, never failed.

How it combines with the thresholds (:func:`combine`), which stay the default judge:

* a metric's absolute ``min``/``max`` are still checked on the interval's value, and a breach
  fails at once, whatever the test says;
* a decisive test (enough samples) replaces the metric's ``baseline`` bound; while the test has
  too few samples the ``baseline`` bound (if any) judges, as with ``kind: thresholds``;
* a metric without a direction (informational, or bounded on both sides) is judged by its
  thresholds only, and so is every metric when there is no stable version to compare with.

Direction of harm: ``max`` or ``baseline.relative_max`` → higher is worse (latency, errors,
cost); ``min`` or ``relative_min`` → lower is worse (throughput).

Samples come from range queries (``bot.adapters.prometheus``): each metric's samples query, one
value per replica per step; every series and every step is one sample. The window is the time
judged so far (the current traffic step's, with steps), so samples accumulate interval by interval.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from bot.canary.evidence import IntervalResult, Measurement, MetricSpec, number_text

Direction = Literal["higher_is_worse", "lower_is_worse"]
ComparisonStatus = Literal["pass", "fail", "inconclusive"]


@dataclass(frozen=True)
class JudgeSettings:
    """``canary.judge`` as an analysis keeps it."""

    kind: Literal["thresholds", "mann_whitney"] = "thresholds"
    confidence: float = 0.95
    min_samples: int = 30
    min_effect: float = 0.1
    sample_step_seconds: int = 15

    @property
    def statistical(self) -> bool:
        return self.kind == "mann_whitney"


def direction_of(spec: MetricSpec) -> Direction | None:
    """Which way is harm for this metric; None when it has none (informational, or both bounds)."""
    higher = spec.max is not None or spec.baseline_relative_max is not None
    lower = spec.min is not None or spec.baseline_relative_min is not None
    if higher == lower:
        return None
    return "higher_is_worse" if higher else "lower_is_worse"


@dataclass(frozen=True)
class Comparison:
    """One metric's test: the verdict, and the numbers behind it."""

    status: ComparisonStatus
    reason: str
    canary_samples: int
    stable_samples: int
    u: float | None = None
    p_value: float | None = None
    effect: float | None = None
    canary_median: float | None = None
    stable_median: float | None = None

    @property
    def decisive(self) -> bool:
        return self.status != "inconclusive"

    def to_evidence(self) -> dict[str, Any]:
        return {
            "kind": "mann_whitney",
            "status": self.status,
            "reason": self.reason,
            "u": self.u,
            "p_value": self.p_value,
            "effect": None if self.effect is None or math.isinf(self.effect) else self.effect,
            "canary_median": self.canary_median,
            "stable_median": self.stable_median,
            "canary_samples": self.canary_samples,
            "stable_samples": self.stable_samples,
        }


def finite(values: Sequence[float]) -> list[float]:
    return [float(value) for value in values if math.isfinite(value)]


def compare(
    canary: Sequence[float],
    stable: Sequence[float],
    direction: Direction,
    settings: JudgeSettings,
    *,
    window_values: tuple[float | None, float | None] = (None, None),
) -> Comparison:
    """The one-sided Mann-Whitney U test of ``canary`` against ``stable`` in the direction of harm,
    with the effect-size floor. NaN and infinite samples are dropped first.

    The effect is how much worse the canary is than the stable version: the larger of the two
    estimates, the samples' medians and each version's metric averaged over the whole window
    (``window_values``). Why both: a histogram quantile moves only linearly inside its bucket, so a
    quantile over few requests (a sample), or a p99 inside a wide bucket (the window's), reads a
    20% slowdown as 6-10% (seen in the scenario suite); the other estimate then carries it.
    Significance alone never fails a metric, so the larger estimate does not make an equal canary
    fail (the A/A rate in ``bench/README.md``)."""
    from scipy.stats import mannwhitneyu  # type: ignore[import-untyped]

    ours, theirs = finite(canary), finite(stable)
    if min(len(ours), len(theirs)) < settings.min_samples:
        return Comparison(
            "inconclusive",
            f"too few samples for the test ({len(ours)} canary, {len(theirs)} stable; "
            f"needs {settings.min_samples} each)",
            len(ours),
            len(theirs),
        )
    alternative = "greater" if direction == "higher_is_worse" else "less"
    result = mannwhitneyu(ours, theirs, alternative=alternative, method="asymptotic")
    u, p_value = float(result.statistic), float(result.pvalue)
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    effect = harm(ours, theirs, direction)
    ours_window, theirs_window = window_values
    if ours_window is not None and theirs_window is not None:
        effect = max(effect, harm([ours_window], [theirs_window], direction))
    numbers = {
        "u": u,
        "p_value": p_value if math.isfinite(p_value) else None,
        "effect": effect,
        "canary_median": ours_median,
        "stable_median": theirs_median,
    }
    alpha = 1 - settings.confidence
    worse = f"{effect_text(effect)} worse" if effect > 0 else "not worse"
    medians = f"median {number_text(ours_median)} vs {number_text(theirs_median)}"
    said = f"U={number_text(u)}, p={p_text(p_value)}, {medians} ({worse})"
    if not math.isfinite(p_value) or p_value >= alpha:
        return Comparison("pass", f"no significant harm: {said}", len(ours), len(theirs), **numbers)
    if effect < settings.min_effect:
        floor = effect_text(settings.min_effect)
        return Comparison(
            "pass", f"significant but below min_effect {floor}: {said}", len(ours), len(theirs), **numbers
        )
    return Comparison("fail", f"significantly worse: {said}", len(ours), len(theirs), **numbers)


def harm(canary: Sequence[float], stable: Sequence[float], direction: Direction) -> float:
    """How much worse the canary is, relative to the stable version (0.2 = 20% worse; <= 0: not
    worse). Medians compare; when the stable median is 0 (an error rate that is mostly zero),
    means do; a canary worse than a stable version at exactly 0 is infinitely worse."""
    ours, theirs = statistics.median(canary), statistics.median(stable)
    if theirs == 0:
        ours, theirs = statistics.fmean(canary), statistics.fmean(stable)
    difference = ours - theirs if direction == "higher_is_worse" else theirs - ours
    if theirs == 0:
        return 0.0 if difference <= 0 else math.inf
    return difference / abs(theirs)


def effect_text(effect: float) -> str:
    return "infinitely" if math.isinf(effect) else f"{effect * 100:.0f}%"


def p_text(p_value: float) -> str:
    if not math.isfinite(p_value):
        return "n/a"
    return f"{p_value:.2g}" if p_value >= 0.001 else "<0.001"


# --------------------------------------------------------------------------- combining


def combine(
    with_baseline: IntervalResult,
    hard_only: IntervalResult,
    comparisons: Mapping[str, Comparison],
    verdict_of: Any,
) -> IntervalResult:
    """The interval as the statistical judge sees it: each compared metric by its hard bounds and
    its test (when decisive), the others as the thresholds judged them; ``verdict_of`` is
    :func:`bot.canary.verdict.interval_verdict`."""
    measurements = []
    for full in with_baseline.measurements:
        comparison = comparisons.get(full.metric)
        hard = hard_only.measurement(full.metric)
        if comparison is None or hard is None:
            measurements.append(full)
            continue
        measurements.append(_combined(full, hard, comparison))
    too_few = (
        with_baseline.reason if with_baseline.verdict == "inconclusive" and _guarded(with_baseline) else None
    )
    verdict, reason = verdict_of(measurements, too_few)
    return replace(with_baseline, measurements=tuple(measurements), verdict=verdict, reason=reason)


def _guarded(result: IntervalResult) -> bool:
    """The interval was held back by the ``min_requests`` guard (too few requests to judge)."""
    return result.reason.startswith(("too few requests", "request count unknown"))


def _combined(full: Measurement, hard: Measurement, comparison: Comparison) -> CompoundMeasurement:
    if not comparison.decisive:
        return CompoundMeasurement.of(
            full, comparison, full.status, f"{full.reason}; test: {comparison.reason}"
        )
    if hard.status == "fail":
        return CompoundMeasurement.of(full, comparison, "fail", f"{hard.reason}; test: {comparison.reason}")
    if comparison.status == "fail":
        return CompoundMeasurement.of(full, comparison, "fail", comparison.reason)
    # The test passed: the hard bounds decide what is left (pass, or no value for them).
    status = "pass" if hard.status in ("pass",) or hard.informational else hard.status
    reason = comparison.reason if status == "pass" else f"{hard.reason}; test: {comparison.reason}"
    return CompoundMeasurement.of(full, comparison, status, reason)


@dataclass(frozen=True)
class CompoundMeasurement(Measurement):
    """A measurement judged by its thresholds and the statistical test, with the test's numbers."""

    comparison: Comparison | None = None

    @classmethod
    def of(cls, base: Measurement, comparison: Comparison, status: Any, reason: str) -> CompoundMeasurement:
        fields = {name: getattr(base, name) for name in base.__dataclass_fields__}
        fields.update(status=status, reason=reason, informational=False, comparison=comparison)
        if comparison.decisive:
            fields["threshold"] = _with_test(base.threshold)
        return cls(**fields)

    def to_evidence(self) -> dict[str, Any]:
        evidence = super().to_evidence()
        if self.comparison is not None:
            evidence["test"] = self.comparison.to_evidence()
        return evidence


def _with_test(threshold: str) -> str:
    parts = [
        part for part in threshold.split(" and ") if "baseline" not in part and "informational" not in part
    ]
    return " and ".join([*parts, "not significantly worse than stable"])


__all__ = [
    "Comparison",
    "CompoundMeasurement",
    "Direction",
    "JudgeSettings",
    "combine",
    "compare",
    "direction_of",
    "harm",
]
