"""What policy checks came to for one plan, and the lines the plan comment shows: pure data.

Conftest's conventions: in package ``main``, ``deny`` (or ``violation``) rules fail the check and
block apply, ``warn`` rules are shown and block nothing. A rule's message is a string, or an
object with ``msg`` (conftest's structured form); Rego v0 partial sets may come back as objects
whose keys are the messages. A policy that could not be evaluated fails: a broken policy must not
let a plan through.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FAILING_RULES = ("deny", "violation")
WARNING_RULES = ("warn",)


@dataclass(frozen=True)
class PolicyOutcome:
    policy: str
    failures: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str = ""  # why the policy could not be evaluated (counts as a failure)

    @property
    def failed(self) -> bool:
        return bool(self.failures or self.error)


def messages(value: object) -> tuple[str, ...]:
    """The messages of one rule's value, sorted so a comment does not reorder between plans."""
    if isinstance(value, Mapping):
        items: Iterable[object] = [value["msg"]] if "msg" in value else value.keys()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    elif value is None or value is False:
        items = ()
    else:
        items = [value]
    return tuple(sorted({_message(item) for item in items}))


def _message(item: object) -> str:
    if isinstance(item, Mapping) and "msg" in item:
        return str(item["msg"])
    return item if isinstance(item, str) else json.dumps(item, sort_keys=True)


def outcome_of(policy: str, document: Mapping[str, Any]) -> PolicyOutcome:
    """The outcome of ``policy`` from the value of ``data.main`` it evaluated to."""
    failures = tuple(m for rule in FAILING_RULES for m in messages(document.get(rule)))
    warnings = tuple(m for rule in WARNING_RULES for m in messages(document.get(rule)))
    return PolicyOutcome(policy, failures, warnings)


def blocks_apply(outcomes: Iterable[PolicyOutcome]) -> bool:
    return any(outcome.failed for outcome in outcomes)


def comment_lines(outcomes: Sequence[PolicyOutcome]) -> list[str]:
    """One line per failed rule, warning or error, prefixed by its policy; empty: nothing to say."""
    lines: list[str] = []
    for outcome in outcomes:
        if outcome.error:
            lines.append(f"❌ `{outcome.policy}`: could not be evaluated: {outcome.error}")
        lines.extend(f"❌ `{outcome.policy}`: {message}" for message in outcome.failures)
        lines.extend(f"⚠️ `{outcome.policy}`: {message}" for message in outcome.warnings)
    return lines


def to_json(outcomes: Sequence[PolicyOutcome]) -> str:
    """The outcomes as stored beside the saved plan."""
    return json.dumps(
        [
            {"policy": o.policy, "failures": list(o.failures), "warnings": list(o.warnings), "error": o.error}
            for o in outcomes
        ]
    )


def from_json(text: str | None) -> tuple[PolicyOutcome, ...]:
    if not text:
        return ()
    return tuple(
        PolicyOutcome(
            str(row["policy"]),
            tuple(row.get("failures", ())),
            tuple(row.get("warnings", ())),
            str(row.get("error", "")),
        )
        for row in json.loads(text)
    )
