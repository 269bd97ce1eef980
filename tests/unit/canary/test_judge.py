"""The statistical judge (pure): the one-sided Mann-Whitney test with its effect-size floor, the
direction of harm, and how the test combines with the thresholds."""

from __future__ import annotations

import math
import random

import pytest
from pydantic import ValidationError

from bot.canary.evidence import MetricSpec
from bot.canary.judge import JudgeSettings, combine, compare, direction_of, harm
from bot.canary.queries import IntervalQueries, RenderedMetric, evaluate_outcomes
from bot.canary.verdict import interval_verdict
from bot.config.canary import Canary

SETTINGS = JudgeSettings("mann_whitney", confidence=0.95, min_samples=30, min_effect=0.1)


def noisy(center: float, n: int = 60, seed: int = 1, spread: float = 0.05) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(center, center * spread) for _ in range(n)]


@pytest.mark.parametrize(
    ("canary", "stable", "direction", "status", "reason"),
    [
        (noisy(0.2, seed=1), noisy(0.2, seed=2), "higher_is_worse", "pass", ""),  # A/A
        (noisy(0.24, seed=1), noisy(0.2, seed=2), "higher_is_worse", "fail", "significantly worse"),
        (noisy(0.21, seed=1, spread=0.01), noisy(0.2, seed=2, spread=0.01), "higher_is_worse", "pass",
         "significant but below min_effect 10%"),
        (noisy(0.16, seed=1), noisy(0.2, seed=2), "higher_is_worse", "pass", "no significant harm"),
        (noisy(300, seed=1), noisy(400, seed=2), "lower_is_worse", "fail", "significantly worse"),
        (noisy(0.24, n=20), noisy(0.2, n=60), "higher_is_worse", "inconclusive", "too few samples"),
        ([], [], "higher_is_worse", "inconclusive", "(0 canary, 0 stable; needs 30 each)"),
        ([0.0] * 40, [0.0] * 40, "higher_is_worse", "pass", "no significant harm"),
        ([0.0] * 20 + [0.2] * 20, [0.0] * 40, "higher_is_worse", "fail", "infinitely worse"),
        ([math.nan] * 40 + noisy(0.2, n=10), noisy(0.2), "higher_is_worse", "inconclusive", "10 canary"),
    ],
)  # fmt: skip
def test_the_test_and_its_floor(
    canary: list[float], stable: list[float], direction: str, status: str, reason: str
) -> None:
    result = compare(canary, stable, direction, SETTINGS)  # type: ignore[arg-type]
    assert (result.status, reason in result.reason) == (status, True), result.reason
    if result.decisive:
        assert result.u is not None and result.canary_median is not None and result.stable_median is not None
        evidence = result.to_evidence()
        assert set(evidence) >= {"u", "p_value", "effect", "canary_median", "stable_median"}


def test_harm_is_relative_in_the_direction_of_harm() -> None:
    assert harm([1.2] * 3, [1.0] * 3, "higher_is_worse") == pytest.approx(0.2)
    assert harm([0.8] * 3, [1.0] * 3, "lower_is_worse") == pytest.approx(0.2)
    assert harm([0.8] * 3, [1.0] * 3, "higher_is_worse") == pytest.approx(-0.2)
    assert harm([0, 0, 1], [0, 0, 0], "higher_is_worse") == math.inf  # means, when the median is 0


@pytest.mark.parametrize(
    ("spec", "direction"),
    [
        (MetricSpec("ttft", "q", baseline_relative_max=1.5), "higher_is_worse"),
        (MetricSpec("errors", "q", max=0.01), "higher_is_worse"),
        (MetricSpec("tps", "q", min=10), "lower_is_worse"),
        (MetricSpec("kv", "q", min=0, max=0.95), None),
        (MetricSpec("kv", "q"), None),
    ],
)
def test_direction_of_harm(spec: MetricSpec, direction: str | None) -> None:
    assert direction_of(spec) == direction


def interval(ttft: float, baseline: float, errors: float, *, hard_only: bool) -> object:
    ttft_spec = MetricSpec("ttft", "ttft", baseline_relative_max=None if hard_only else 1.5)
    queries = IntervalQueries(
        metrics=(
            RenderedMetric(ttft_spec, "ttft", None if hard_only else "ttft_stable"),
            RenderedMetric(MetricSpec("errors", "errors", max=0.01), "errors", None),
        ),
        request_count_query="count",
    )
    outcomes = {"ttft": ttft, "ttft_stable": baseline, "errors": errors, "count": 100.0}
    return evaluate_outcomes(queries, outcomes, min_requests=10)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ttft", "errors", "tests", "verdict"),
    [
        (0.2, 0.0, {"ttft": "pass", "errors": "pass"}, "pass"),
        (0.2, 0.5, {"ttft": "pass", "errors": "pass"}, "fail"),  # a hard max fails at once
        (0.2, 0.0, {"ttft": "fail", "errors": "pass"}, "fail"),
        (0.5, 0.0, {"ttft": "pass", "errors": "pass"}, "pass"),  # the decisive test replaces the 1.5x bound
        (0.5, 0.0, {"ttft": "inconclusive", "errors": "pass"}, "fail"),  # too few samples: the bound judges
        (0.2, 0.0, {"ttft": "inconclusive", "errors": "inconclusive"}, "pass"),
    ],
)
def test_the_test_combines_with_the_thresholds(
    ttft: float, errors: float, tests: dict[str, str], verdict: str
) -> None:
    from bot.canary.judge import Comparison

    comparisons = {name: Comparison(status, f"test {status}", 40, 40) for name, status in tests.items()}  # type: ignore[arg-type]
    full = interval(ttft, 0.2, errors, hard_only=False)
    hard = interval(ttft, 0.2, errors, hard_only=True)
    combined = combine(full, hard, comparisons, interval_verdict)  # type: ignore[arg-type]
    assert combined.verdict == verdict, combined.reason
    evidence = combined.to_evidence()["measurements"]
    assert all(item["test"]["status"] == tests[item["metric"]] for item in evidence)


def test_the_judge_config() -> None:
    canary = Canary.model_validate(
        {"judge": {"kind": "mann_whitney", "min_samples": 40, "sample_step": "30s"}}
    )
    assert (canary.judge.kind, canary.judge.min_samples, canary.judge.sample_step) == ("mann_whitney", 40, 30)
    assert Canary().judge.kind == "thresholds"
    for bad, message in (
        ({"kind": "thresholds", "min_samples": 40}, "min_samples only apply to kind: mann_whitney"),
        ({"kind": "mann_whitney", "confidence": 1}, "less than 1"),
        ({"kind": "mann_whitney", "min_samples": 2}, "greater than or equal to 5"),
        ({"kind": "mann_whitney", "min_effect": -0.1}, "greater than or equal to 0"),
        ({"kind": "kayenta"}, "'thresholds' or 'mann_whitney'"),
    ):
        with pytest.raises(ValidationError) as raised:
            Canary.model_validate({"judge": bad})
        assert message in str(raised.value)
