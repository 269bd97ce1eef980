from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.canary import AnalysisState, IntervalResult, MetricSpec, decide, evaluate_interval
from bot.config.schema import Canary, Metric

LATENCY = MetricSpec(name="ttft_p99", query="q1", max=0.2)
ERRORS = MetricSpec(name="error_rate", query="q2", max=0.01, baseline_relative_max=1.5)
THROUGHPUT = MetricSpec(name="tps", query="q3", min=100)
RELATIVE_ONLY = MetricSpec(name="relative", query="q4", baseline_relative_max=2.0)
SLOWER_IS_WORSE = MetricSpec(name="tokens", query="q5", baseline_relative_min=0.8)
INFO = MetricSpec(name="kv", query="q6")


@dataclass(frozen=True)
class Answer:
    """An Observation, as bot.adapters.prometheus.QueryOutcome is one."""

    value: float | None
    error: str | None = None


# --------------------------------------------------------------------------- one measurement


@pytest.mark.parametrize(
    ("spec", "value", "baseline", "status", "reason_part"),
    [
        (LATENCY, 0.1, None, "pass", "0.1 <= max 0.2"),
        (LATENCY, 0.2, None, "pass", "<= max 0.2"),  # the bound itself is allowed
        (LATENCY, 0.25, None, "fail", "0.25 > max 0.2"),
        (THROUGHPUT, 99.0, None, "fail", "99 < min 100"),
        (THROUGHPUT, 100.0, None, "pass", ">= min 100"),
        (ERRORS, 0.004, 0.004, "pass", "<= 1.5x baseline 0.004"),
        (ERRORS, 0.007, 0.004, "fail", "0.007 > 1.5x baseline 0.004 (= 0.006)"),
        (ERRORS, 0.02, 0.02, "fail", "> max 0.01"),  # absolute bound fails regardless of the baseline
        (ERRORS, 0.005, None, "pass", "baseline comparison inconclusive"),  # absolute held; baseline unknown
        (ERRORS, 0.02, None, "fail", "> max 0.01"),  # absolute still applies without a baseline
        (ERRORS, 0.0, 0.0, "pass", "0 <= 1.5x baseline 0"),
        (ERRORS, 0.001, 0.0, "fail", "> 1.5x baseline 0"),
        (RELATIVE_ONLY, 1.0, None, "inconclusive", "stable version has no value"),
        (RELATIVE_ONLY, 1.0, 0.4, "fail", "1 > 2x baseline 0.4 (= 0.8)"),
        (RELATIVE_ONLY, 0.8, 0.4, "pass", "0.8 <= 2x baseline"),
        (SLOWER_IS_WORSE, 70.0, 100.0, "fail", "70 < 0.8x baseline 100 (= 80)"),
        (SLOWER_IS_WORSE, 90.0, 100.0, "pass", "90 >= 0.8x baseline 100"),
        (LATENCY, None, None, "inconclusive", "no value: no data"),
        (LATENCY, math.nan, None, "inconclusive", "not a finite number"),
        (LATENCY, math.inf, None, "inconclusive", "not a finite number"),
        (LATENCY, Answer(None, "cannot reach Prometheus"), None, "inconclusive", "cannot reach Prometheus"),
        (LATENCY, Answer(0.3), None, "fail", "0.3 > max 0.2"),
        (ERRORS, 0.005, Answer(None, "no data: empty"), "pass", "no data: empty"),
        (ERRORS, 0.005, math.nan, "pass", "baseline comparison inconclusive"),
        (INFO, 0.97, None, "pass", "informational"),
        (INFO, None, None, "inconclusive", "no value"),
    ],
)
def test_measurement(
    spec: MetricSpec, value: object, baseline: object, status: str, reason_part: str
) -> None:
    result = evaluate_interval([spec], {spec.name: value}, {spec.name: baseline}, 500, 50)  # type: ignore[dict-item]

    measurement = result.measurements[0]
    assert measurement.status == status
    assert reason_part in measurement.reason
    assert measurement.sample_count == 500
    assert measurement.threshold == spec.threshold_text()


@pytest.mark.parametrize(
    ("values", "request_count", "min_requests", "verdict", "reason_part"),
    [
        ({"ttft_p99": 0.1, "error_rate": 0.001}, 500, 50, "pass", "every metric within"),
        ({"ttft_p99": 0.5, "error_rate": 0.001}, 500, 50, "fail", "ttft_p99: 0.5 > max 0.2"),
        ({"ttft_p99": 0.5, "error_rate": None}, 500, 50, "fail", "ttft_p99"),  # a failure outweighs no-data
        ({"ttft_p99": 0.1, "error_rate": None}, 500, 50, "inconclusive", "error_rate: no value"),
        ({"ttft_p99": None, "error_rate": None}, 500, 50, "inconclusive", "no value"),
        # Too few requests: never failed, whatever the values say (Flagger's weakness, pinned).
        (
            {"ttft_p99": 5.0, "error_rate": 0.9},
            49,
            50,
            "inconclusive",
            "too few requests: 49 < min_requests 50",
        ),
        ({"ttft_p99": 5.0, "error_rate": 0.9}, 0, 50, "inconclusive", "too few requests: 0"),
        ({"ttft_p99": 0.1, "error_rate": 0.001}, 50, 50, "pass", ""),  # min_requests itself is enough
        ({"ttft_p99": 0.1, "error_rate": 0.001}, 49.6, 50, "pass", ""),  # increase() is fractional
        ({"ttft_p99": 5.0, "error_rate": 0.9}, None, 50, "inconclusive", "request count unknown (no data)"),
        (
            {"ttft_p99": 5.0},
            Answer(None, "cannot reach Prometheus"),
            50,
            "inconclusive",
            "request count unknown (cannot reach Prometheus)",
        ),
        ({"ttft_p99": 5.0, "error_rate": 0.001}, None, 0, "fail", "ttft_p99"),  # guard off
        ({"ttft_p99": 5.0, "error_rate": 0.001}, math.nan, 50, "inconclusive", "request count unknown"),
        ({}, 500, 50, "inconclusive", "no data"),  # nothing was measured
    ],
)
def test_interval_verdict(
    values: dict[str, object], request_count: object, min_requests: int, verdict: str, reason_part: str
) -> None:
    result = evaluate_interval(
        [LATENCY, ERRORS],
        values,  # type: ignore[arg-type]
        {"error_rate": 0.001},
        request_count,  # type: ignore[arg-type]
        min_requests,
    )

    assert result.verdict == verdict
    assert reason_part in result.reason


def test_too_few_requests_keeps_the_values_as_evidence() -> None:
    result = evaluate_interval([LATENCY], {"ttft_p99": 3.0}, {}, 10, 50)

    measurement = result.measurements[0]
    assert measurement.value == 3.0
    assert measurement.status == "inconclusive"
    assert measurement.sample_count == 10
    assert result.failing == ()


def test_informational_metrics_never_decide() -> None:
    passing = evaluate_interval([LATENCY, INFO], {"ttft_p99": 0.1, "kv": None}, {}, 100, 1)
    only_info = evaluate_interval([INFO], {"kv": 0.5}, {}, 100, 1)

    assert passing.verdict == "pass"
    assert only_info.verdict == "inconclusive"
    assert "no metric has a threshold" in only_info.reason


def test_evidence_is_json_and_complete() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    result = evaluate_interval(
        [LATENCY, ERRORS],
        {"ttft_p99": 0.3, "error_rate": math.nan},
        {"error_rate": 0.002},
        120.4,
        50,
        index=3,
        at=at,
    )

    evidence = json.loads(json.dumps(result.to_evidence(), allow_nan=False))
    assert evidence["index"] == 3
    assert evidence["at"] == "2024-01-01T00:00:00+00:00"
    assert evidence["request_count"] == 120
    assert evidence["verdict"] == "fail"
    latency, errors = evidence["measurements"]
    assert latency == {
        "metric": "ttft_p99",
        "value": 0.3,
        "threshold": "<= 0.2",
        "min": None,
        "max": 0.2,
        "baseline_relative_max": None,
        "baseline_relative_min": None,
        "baseline_value": None,
        "sample_count": 120,
        "status": "fail",
        "reason": "0.3 > max 0.2",
        "informational": False,
    }
    assert errors["value"] is None and errors["baseline_value"] == 0.002
    assert errors["threshold"] == "<= 0.01 and <= 1.5x baseline"
    assert errors["status"] == "inconclusive"


@pytest.mark.parametrize(
    ("specs", "min_requests", "message"),
    [
        ([], 1, "at least one metric"),
        ([LATENCY, LATENCY], 1, "repeated: ttft_p99"),
        ([LATENCY], -1, "min_requests"),
    ],
)
def test_evaluate_interval_refuses_bad_input(
    specs: list[MetricSpec], min_requests: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_interval(specs, {}, {}, 10, min_requests)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "query": "q"}, "needs a name"),
        ({"name": "m", "query": "  "}, "empty query"),
        ({"name": "m", "query": "q", "min": 2, "max": 1}, "greater than max"),
        ({"name": "m", "query": "q", "max": math.nan}, "finite"),
        ({"name": "m", "query": "q", "baseline_relative_max": 0}, "positive"),
        ({"name": "m", "query": "q", "baseline_relative_min": -1}, "positive"),
    ],
)
def test_metric_spec_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MetricSpec(**kwargs)  # type: ignore[arg-type]


def test_metric_spec_from_repository_config() -> None:
    metric = Metric.model_validate(
        {"name": "error_rate", "query": "sum(x)", "max": 0.01, "baseline": {"relative_max": 1.5}}
    )

    spec = MetricSpec.from_config(metric)

    assert spec == MetricSpec(name="error_rate", query="sum(x)", max=0.01, baseline_relative_max=1.5)
    assert spec.threshold_text() == "<= 0.01 and <= 1.5x baseline"
    assert MetricSpec(name="m", query="q").threshold_text() == "none (informational)"


# --------------------------------------------------------------------------- the analysis

CANARY = Canary(interval=60, duration=300, failure_limit=2, inconclusive_limit=3, min_requests=50)


def intervals(verdicts: str) -> list[IntervalResult]:
    """``P``, ``F``, ``I`` → intervals with those verdicts."""
    names = {"P": "pass", "F": "fail", "I": "inconclusive"}
    return [
        IntervalResult(
            index=i, at=None, measurements=(), request_count=None, verdict=names[v], reason=f"#{i}"
        )  # type: ignore[arg-type]
        for i, v in enumerate(verdicts)
    ]


@pytest.mark.parametrize(
    ("verdicts", "elapsed", "status", "consecutive", "inconclusive", "decided_by"),
    [
        ("", 0, "running", 0, 0, None),
        ("P", 60, "running", 0, 0, None),
        ("F", 60, "running", 1, 0, None),
        ("FF", 120, "failed", 2, 0, 1),
        ("FPF", 180, "running", 1, 0, None),  # a pass resets the streak
        ("FIF", 180, "failed", 2, 1, 2),  # no-data neither resets nor counts: still two in a row
        ("FII", 180, "running", 1, 2, None),  # ... and never adds to the streak
        ("III", 180, "stopped_inconclusive", 0, 3, 2),
        ("IPIPI", 300, "stopped_inconclusive", 0, 3, 4),  # the limit counts inconclusive intervals in total
        ("PPPPP", 300, "passed", 0, 0, None),
        ("PIPIP", 300, "passed", 0, 2, None),
        ("PFPFP", 300, "passed", 0, 0, None),  # failures, never failure_limit in a row
        ("PPPPI", 300, "passed", 0, 1, None),  # a trailing no-data interval does not block the pass
        ("II", 300, "stopped_inconclusive", 0, 2, None),  # duration over, nothing decided: never "passed"
        ("", 300, "stopped_inconclusive", 0, 0, None),
        ("PPPPF", 300, "running", 1, 0, None),  # last decided interval failed: wait for the next
        ("PPPPFP", 360, "passed", 0, 0, None),
        ("PPPPFF", 360, "failed", 2, 0, 5),
        ("PPPPFI", 360, "running", 1, 1, None),
        ("FFPPP", 300, "failed", 2, 0, 1),  # the first ending is final
        ("IIIFF", 300, "stopped_inconclusive", 0, 3, 2),
    ],
)
def test_decide(
    verdicts: str, elapsed: int, status: str, consecutive: int, inconclusive: int, decided_by: int | None
) -> None:
    state = decide(CANARY, intervals(verdicts), elapsed)

    assert state.status == status, state.reason
    assert state.consecutive_failures == consecutive
    assert state.inconclusive_count == inconclusive
    assert state.decided_by == decided_by
    assert state.finished == (status != "running")
    assert state.needs_notification == state.finished


def test_failed_reason_names_the_limit_and_the_last_interval() -> None:
    state = decide(CANARY, intervals("FF"), 120)

    assert state.reason == "2 consecutive failing intervals (failure_limit 2); last: #1"


def test_stopped_inconclusive_says_why() -> None:
    stopped = decide(CANARY, intervals("III"), 180)
    over = decide(CANARY, intervals("II"), 300)

    assert stopped.reason == "3 inconclusive intervals (inconclusive_limit 3); last: #2"
    assert "no interval had enough data" in over.reason


def test_failure_limit_one_fails_on_the_first_failure() -> None:
    strict = Canary(interval=60, duration=300, failure_limit=1)

    assert decide(strict, intervals("PIF"), 180).status == "failed"


def test_state_evidence_is_json() -> None:
    state = decide(CANARY, intervals("PFIP"), 240)

    evidence = json.loads(json.dumps(state.to_evidence()))
    assert evidence == {
        "status": "running",
        "reason": state.reason,
        "consecutive_failures": 0,
        "inconclusive_count": 1,
        "passed_count": 2,
        "failed_count": 1,
        "decided_by": None,
    }
    assert isinstance(state, AnalysisState)
