"""Model gates (pure): what the MLflow run behind a version must show before its pull request."""

from __future__ import annotations

import math

import pytest

from bot.config.deployments import MetricGate, TagGate
from bot.updates.gates import RunFacts, evaluate_gates

GATES = (
    MetricGate(metric="eval_accuracy", min=0.82),
    MetricGate(metric="eval_ttft_p99_seconds", max=0.2),
    TagGate(tag="validation_status", equals="approved"),
)
GOOD = {"eval_accuracy": 0.9, "eval_ttft_p99_seconds": 0.15}
OK = "within bounds"
ON_VERSION = "set on the model version"
APPROVED = {"validation_status": "approved"}


@pytest.mark.parametrize(
    ("metrics", "version_tags", "run_tags", "passed", "whys"),
    [
        (GOOD, APPROVED, {}, True, [OK, OK, ON_VERSION]),
        (GOOD, {}, APPROVED, True, [OK, OK, "set on the run"]),
        (GOOD, APPROVED, {"validation_status": "pending"}, True,
         [OK, OK, ON_VERSION]),  # the version's tag wins
        ({**GOOD, "eval_accuracy": 0.8}, APPROVED, {}, False,
         ["0.8 < min 0.82", OK, ON_VERSION]),
        ({**GOOD, "eval_ttft_p99_seconds": 0.25}, APPROVED, {}, False,
         [OK, "0.25 > max 0.2", ON_VERSION]),
        ({"eval_accuracy": 0.9}, {}, {}, False,
         [OK, "the run did not log this metric",
          "neither the model version nor its run has this tag"]),
        ({**GOOD, "eval_accuracy": math.nan}, APPROVED, {}, False,
         ["not a finite number", OK, ON_VERSION]),
        (GOOD, {"validation_status": "rejected"}, {}, False,
         [OK, OK, "the model version says 'rejected', not 'approved'"]),
    ],
)  # fmt: skip
def test_gates(
    metrics: dict[str, float],
    version_tags: dict[str, str],
    run_tags: dict[str, str],
    passed: bool,
    whys: list[str],
) -> None:
    report = evaluate_gates(GATES, RunFacts("r1", metrics, version_tags, run_tags))
    assert report.passed is passed
    assert [row.why for row in report.rows] == whys
    failed = [row for row in report.rows if not row.passed]
    assert report.reason.startswith("all 3 gates passed" if passed else f"{len(failed)} of 3 gates failed")
    assert report.to_json()["gates"][0]["gate"] == "eval_accuracy"


def test_a_run_that_cannot_be_read_is_not_promoted() -> None:
    report = evaluate_gates(GATES, "cannot reach MLflow at http://mlflow:5000: ConnectError")
    assert not report.passed and report.rows == ()
    assert report.reason == (
        "the model version's run could not be read: cannot reach MLflow at http://mlflow:5000: ConnectError"
    )
