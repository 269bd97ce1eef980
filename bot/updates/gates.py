"""Model gates (pure): may an MLflow model version be proposed? Read before its pull request.

``trigger.model.gates`` names metrics logged on the run behind the version (``{metric:
eval_accuracy, min: 0.82}``) and tags (``{tag: validation_status, equals: approved}``; a tag is
looked up on the model version first, then on its run, since teams set approval on either). Every
gate must hold. A metric the run did not log fails its gate; a version whose run cannot be read
(MLflow unreachable, no run behind the version) is not promoted: the report fails, saying why.

What a failure does is ``trigger.on_gate_failure``: a draft pull request with a failed
``gitops-bot/gates`` status and the table (``draft``, the default), or no pull request at all,
only the audit log and Slack (``refuse``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.canary.evidence import number_text

GATES_CONTEXT = "gitops-bot/gates"


@dataclass(frozen=True)
class RunFacts:
    """What MLflow says about a model version: its run's metrics (latest value) and the tags."""

    run_id: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    version_tags: Mapping[str, str] = field(default_factory=dict)
    run_tags: Mapping[str, str] = field(default_factory=dict)
    run_url: str | None = None


@dataclass(frozen=True)
class GateRow:
    gate: str
    wanted: str
    found: str
    passed: bool
    why: str


@dataclass(frozen=True)
class GateReport:
    passed: bool
    reason: str
    rows: tuple[GateRow, ...] = ()
    run_id: str | None = None
    run_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason,
            "run_id": self.run_id,
            "run_url": self.run_url,
            "gates": [row.__dict__ for row in self.rows],
        }


def evaluate_gates(gates: Sequence[Any], facts: RunFacts | str) -> GateReport:
    """The report for ``gates`` (``MetricGate``/``TagGate`` from the config) over what was read, or
    over why nothing could be read (``facts`` a sentence)."""
    if isinstance(facts, str):
        return GateReport(False, f"the model version's run could not be read: {facts}")
    rows = tuple(_row(gate, facts) for gate in gates)
    failed = [row for row in rows if not row.passed]
    if failed:
        reason = "; ".join(f"{row.gate}: {row.why}" for row in failed)
        return GateReport(
            False, f"{len(failed)} of {len(rows)} gates failed: {reason}", rows, facts.run_id, facts.run_url
        )
    return GateReport(True, f"all {len(rows)} gates passed", rows, facts.run_id, facts.run_url)


def _row(gate: Any, facts: RunFacts) -> GateRow:
    if hasattr(gate, "metric"):
        return _metric_row(gate, facts)
    return _tag_row(gate, facts)


def _metric_row(gate: Any, facts: RunFacts) -> GateRow:
    wanted = " and ".join(
        part
        for part in (
            f">= {number_text(gate.min)}" if gate.min is not None else "",
            f"<= {number_text(gate.max)}" if gate.max is not None else "",
        )
        if part
    )
    value = facts.metrics.get(gate.metric)
    if value is None:
        return GateRow(gate.metric, wanted, "not logged", False, "the run did not log this metric")
    if not math.isfinite(value):
        return GateRow(gate.metric, wanted, str(value), False, "not a finite number")
    found = number_text(value)
    if gate.min is not None and value < gate.min:
        return GateRow(gate.metric, wanted, found, False, f"{found} < min {number_text(gate.min)}")
    if gate.max is not None and value > gate.max:
        return GateRow(gate.metric, wanted, found, False, f"{found} > max {number_text(gate.max)}")
    return GateRow(gate.metric, wanted, found, True, "within bounds")


def _tag_row(gate: Any, facts: RunFacts) -> GateRow:
    label = f"tag {gate.tag}"
    wanted = f"= {gate.equals}"
    if gate.tag in facts.version_tags:
        value, where = facts.version_tags[gate.tag], "model version"
    elif gate.tag in facts.run_tags:
        value, where = facts.run_tags[gate.tag], "run"
    else:
        return GateRow(label, wanted, "not set", False, "neither the model version nor its run has this tag")
    if value != gate.equals:
        return GateRow(label, wanted, value, False, f"the {where} says {value!r}, not {gate.equals!r}")
    return GateRow(label, wanted, value, True, f"set on the {where}")


__all__ = ["GATES_CONTEXT", "GateReport", "GateRow", "RunFacts", "evaluate_gates"]
