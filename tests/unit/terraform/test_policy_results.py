"""Policy outcomes as tables: a rule's value → messages, outcomes → comment lines, and the gate."""

from __future__ import annotations

from typing import Any

import pytest

from bot.terraform.apply_gate import Verdict, policy_refusal
from bot.terraform.policy_results import (
    PolicyOutcome,
    blocks_apply,
    comment_lines,
    from_json,
    messages,
    outcome_of,
    to_json,
)

HEAD, OLD = "h" * 40, "o" * 40


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ()),
        (False, ()),
        ([], ()),
        (["b", "a", "a"], ("a", "b")),  # a set: no repeats, a stable order
        ({"too many nodes": True}, ("too many nodes",)),  # a v0 partial set returned as an object
        ({"msg": "structured"}, ("structured",)),
        ([{"msg": "one", "details": {}}], ("one",)),  # conftest's structured messages
        ("alone", ("alone",)),
        ([3], ("3",)),
    ],
)
def test_messages(value: object, expected: tuple[str, ...]) -> None:
    assert messages(value) == expected


@pytest.mark.parametrize(
    ("document", "failures", "warnings"),
    [
        ({}, (), ()),
        ({"deny": ["x"]}, ("x",), ()),
        ({"violation": [{"msg": "v"}]}, ("v",), ()),
        ({"deny": ["x"], "violation": ["v"], "warn": ["w"]}, ("x", "v"), ("w",)),
        ({"warn": ["w"], "other": ["ignored"]}, (), ("w",)),
    ],
)
def test_outcome_of(document: dict[str, Any], failures: tuple[str, ...], warnings: tuple[str, ...]) -> None:
    outcome = outcome_of("gpu-limits", document)
    assert (outcome.failures, outcome.warnings) == (failures, warnings)
    assert outcome.failed is bool(failures)


@pytest.mark.parametrize(
    ("outcomes", "blocks", "lines"),
    [
        ((), False, []),
        ((PolicyOutcome("p"),), False, []),
        ((PolicyOutcome("p", warnings=("pricey",)),), False, ["⚠️ `p`: pricey"]),
        (
            (PolicyOutcome("p", failures=("big",), warnings=("pricey",)), PolicyOutcome("q")),
            True,
            ["❌ `p`: big", "⚠️ `p`: pricey"],
        ),
        (
            (PolicyOutcome("p", error="this is unclosed"),),
            True,
            ["❌ `p`: could not be evaluated: this is unclosed"],
        ),
    ],
)
def test_blocks_and_lines(outcomes: tuple[PolicyOutcome, ...], blocks: bool, lines: list[str]) -> None:
    assert blocks_apply(outcomes) is blocks
    assert comment_lines(outcomes) == lines


def test_stored_outcomes_round_trip() -> None:
    outcomes = (PolicyOutcome("p", ("a",), ("w",)), PolicyOutcome("q", error="e"))
    assert from_json(to_json(outcomes)) == outcomes
    assert from_json(None) == ()


@pytest.mark.parametrize(
    ("failed", "approved_at", "verdict"),
    [
        (False, None, None),  # nothing failed: nothing to approve
        (True, None, Verdict.POLICY_FAILED),
        (True, HEAD, None),  # approved at the head
        (True, OLD, Verdict.POLICY_FAILED),  # approved before a push: the approval is gone
        (False, OLD, None),
    ],
)
def test_policy_refusal(failed: bool, approved_at: str | None, verdict: Verdict | None) -> None:
    decision = policy_refusal(
        policies_failed=failed, approved_at=approved_at, head_sha=HEAD, executable="/gitops"
    )
    assert (decision.verdict if decision else None) == verdict
    if decision is not None:
        assert decision.refused
        assert "/gitops approve_policies" in decision.reason
