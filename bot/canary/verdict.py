"""Canary verdicts: one interval's measurements judged against thresholds, and the analysis decided.

Pure: no I/O, no clock. The caller queries Prometheus (``bot.adapters.prometheus``), hands the values in,
and stores what comes out. Two rules the users rely on are pinned here:

* **No data is not bad data.** Too few requests, an empty query result, NaN, or an unreachable
  Prometheus make a measurement *inconclusive*; an inconclusive interval never counts towards a
  rollback. (Flagger counts a check without data as failed; we do not.)
* **Every verdict shows its evidence.** Each measurement keeps its value, its threshold, the
  stable version's value and the interval's request count; ``to_evidence()`` gives JSON-able dicts
  for the API, the PR comment and Slack.

The data the verdict is made of lives in ``bot.canary.evidence`` and is re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.canary.evidence import (
    AnalysisConfig,
    AnalysisState,
    AnalysisStatus,
    IntervalResult,
    IntervalVerdict,
    Measurement,
    MeasurementStatus,
    MetricSpec,
    Observation,
    Observed,
    number_text,
)

__all__ = [
    "AnalysisConfig",
    "AnalysisState",
    "AnalysisStatus",
    "IntervalResult",
    "IntervalVerdict",
    "Measurement",
    "MeasurementStatus",
    "MetricSpec",
    "Observation",
    "Observed",
    "decide",
    "evaluate_interval",
    "interval_verdict",
]


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
    _check_specs(specs, min_requests)
    sample_count, too_few = _request_guard(request_count, min_requests)
    measurements = tuple(
        _measure(spec, values.get(spec.name), baseline_values.get(spec.name), sample_count, too_few)
        for spec in specs
    )
    verdict, reason = _interval_verdict(measurements, too_few)
    return IntervalResult(
        index=index,
        at=at,
        measurements=measurements,
        request_count=sample_count,
        verdict=verdict,
        reason=reason,
    )


def _check_specs(specs: Sequence[MetricSpec], min_requests: int) -> None:
    if not specs:
        raise ValueError("an interval needs at least one metric to evaluate")
    if min_requests < 0:
        raise ValueError(f"min_requests must be >= 0, got {min_requests}")
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"metric names must be unique; repeated: {', '.join(repeated)}")


def _request_guard(request_count: Observed, min_requests: int) -> tuple[int | None, str | None]:
    """(the interval's sample count, why it is too few to judge by, or None when enough)."""
    count_value, count_problem = _unpack(request_count)
    sample_count = None if count_value is None else max(0, round(count_value))
    if min_requests > 0:
        if sample_count is None:
            return None, f"request count unknown ({count_problem}); needs at least {min_requests}"
        if sample_count < min_requests:
            return sample_count, f"too few requests: {sample_count} < min_requests {min_requests}"
    return sample_count, None


def interval_verdict(measurements: Sequence[Measurement], too_few: str | None) -> tuple[IntervalVerdict, str]:
    """What the measurements add up to (``too_few``: the request guard held the interval back)."""
    return _interval_verdict(measurements, too_few)


def _interval_verdict(
    measurements: Sequence[Measurement], too_few: str | None
) -> tuple[IntervalVerdict, str]:
    deciding = [item for item in measurements if not item.informational]
    failed = [item for item in deciding if item.status == "fail"]
    undecided = [item for item in deciding if item.status == "inconclusive"]
    if too_few is not None:
        return "inconclusive", too_few
    if failed:
        return "fail", "; ".join(f"{item.metric}: {item.reason}" for item in failed)
    if undecided:
        return "inconclusive", "; ".join(f"{item.metric}: {item.reason}" for item in undecided)
    if deciding:
        return "pass", "every metric within its threshold"
    # Only informational metrics: nothing can judge the canary.
    return "inconclusive", "no metric has a threshold; nothing to decide on"


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
    checks = _absolute_checks(spec, value) + _baseline_checks(spec, value, baseline_value, baseline_problem)
    violations = [text for outcome, text in checks if outcome == "broken"]
    satisfied = [text for outcome, text in checks if outcome == "held"]
    undecided = [text for outcome, text in checks if outcome == "undecided"]
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


_Check = tuple[Literal["held", "broken", "undecided"], str]
"""(how the check came out, what was compared), in the order the bounds are listed."""


def _absolute_checks(spec: MetricSpec, value: float) -> list[_Check]:
    checks: list[_Check] = []
    if spec.min is not None:
        broken = value < spec.min
        relation = "<" if broken else ">="
        checks.append(
            ("broken" if broken else "held", f"{number_text(value)} {relation} min {number_text(spec.min)}")
        )
    if spec.max is not None:
        broken = value > spec.max
        relation = ">" if broken else "<="
        checks.append(
            ("broken" if broken else "held", f"{number_text(value)} {relation} max {number_text(spec.max)}")
        )
    return checks


def _baseline_checks(
    spec: MetricSpec, value: float, baseline_value: float | None, baseline_problem: str | None
) -> list[_Check]:
    if not spec.uses_baseline:
        return []
    if baseline_value is None:
        return [
            (
                "undecided",
                f"baseline comparison inconclusive: stable version has no value ({baseline_problem})",
            )
        ]
    checks: list[_Check] = []
    for ratio, is_upper in ((spec.baseline_relative_max, True), (spec.baseline_relative_min, False)):
        if ratio is None:
            continue
        limit = ratio * baseline_value
        broken = value > limit if is_upper else value < limit
        relation = (">" if broken else "<=") if is_upper else ("<" if broken else ">=")
        checks.append(
            (
                "broken" if broken else "held",
                f"{number_text(value)} {relation} {number_text(ratio)}x baseline "
                f"{number_text(baseline_value)} (= {number_text(limit)})",
            )
        )
    return checks


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
    tally = _Tally()
    for interval in intervals:
        ended = _count(tally, interval, failure_limit, inconclusive_limit)
        if ended is not None:
            return ended
    if elapsed_seconds < analysis_config.duration:
        return tally.state("running", f"{len(intervals)} intervals measured; duration not reached")
    return _at_duration(tally, measured=len(intervals), failure_limit=failure_limit)


@dataclass
class _Tally:
    """The counts so far; ``consecutive`` is the current run of failing intervals."""

    consecutive: int = 0
    inconclusive: int = 0
    passed: int = 0
    failed: int = 0

    def state(self, status: AnalysisStatus, reason: str, decided_by: int | None = None) -> AnalysisState:
        return AnalysisState(
            status=status,
            reason=reason,
            consecutive_failures=self.consecutive,
            inconclusive_count=self.inconclusive,
            passed_count=self.passed,
            failed_count=self.failed,
            decided_by=decided_by,
        )


def _count(
    tally: _Tally, interval: IntervalResult, failure_limit: int, inconclusive_limit: int
) -> AnalysisState | None:
    """Add ``interval`` to ``tally``; the final state when it reaches a limit, else None."""
    if interval.verdict == "fail":
        tally.consecutive += 1
        tally.failed += 1
        if tally.consecutive >= failure_limit:
            return tally.state(
                "failed",
                f"{tally.consecutive} consecutive failing intervals (failure_limit {failure_limit}); "
                f"last: {interval.reason}",
                decided_by=interval.index,
            )
    elif interval.verdict == "pass":
        tally.consecutive = 0
        tally.passed += 1
    else:
        tally.inconclusive += 1
        if tally.inconclusive >= inconclusive_limit:
            return tally.state(
                "stopped_inconclusive",
                f"{tally.inconclusive} inconclusive intervals (inconclusive_limit {inconclusive_limit}); "
                f"last: {interval.reason}",
                decided_by=interval.index,
            )
    return None


def _at_duration(tally: _Tally, *, measured: int, failure_limit: int) -> AnalysisState:
    """The analysis once its duration has elapsed without reaching a limit."""
    if tally.passed == 0:
        what = "no interval was measured" if not measured else "no interval had enough data to decide"
        return tally.state("stopped_inconclusive", f"duration reached but {what}")
    if tally.consecutive > 0:
        return tally.state(
            "running",
            "duration reached but the last decided interval failed "
            f"({tally.consecutive} of {failure_limit}); waiting for the next interval to decide",
        )
    return tally.state(
        "passed",
        f"duration reached: {tally.passed} passing, {tally.failed} failing (never {failure_limit} in a row), "
        f"{tally.inconclusive} inconclusive intervals",
    )
