"""The model gates around an update's pull request: read MLflow, decide (:mod:`bot.updates.gates`),
and after the pull request exists, set its ``gitops-bot/gates`` commit status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.adapters.forge.port import CommitState, CommitStatus, Forge
from bot.config import Deployment
from bot.updates.gates import GATES_CONTEXT, GateReport, evaluate_gates

if TYPE_CHECKING:
    from bot.services import Services


def gate_report(services: Services, deployment: Deployment, version: str) -> GateReport | None:
    """The gates' verdict on ``version``; None when the deployment has no model gates."""
    model = deployment.trigger.model
    if model is None or not model.gates:
        return None
    from bot.adapters.mlflow import read_run_facts

    facts = read_run_facts(services.settings.mlflow_tracking_url, model.name, version)
    return evaluate_gates(model.gates, facts)


def refuses(deployment: Deployment, report: GateReport | None) -> bool:
    """A failed report with ``on_gate_failure: refuse``: no pull request at all."""
    return report is not None and not report.passed and deployment.trigger.on_gate_failure == "refuse"


def set_gates_status(forge: Forge, repo: str, head_sha: str | None, report: GateReport | None) -> None:
    """The pull request's head says whether the gates passed (a required check can hold a merge)."""
    if report is None or head_sha is None:
        return
    description = report.reason if len(report.reason) <= 140 else report.reason[:137] + "..."
    state = CommitState.SUCCESS if report.passed else CommitState.FAILURE
    forge.set_commit_status(
        repo, head_sha, CommitStatus(state, GATES_CONTEXT, description, target_url=report.run_url)
    )


__all__ = ["gate_report", "refuses", "set_gates_status"]
