"""Pure decisions for deployments: how an analysis runs, what follows it, how to undo a deployment.

No I/O here; what a merge deployed is decided in :mod:`bot.deployments.merged`. The workflows
(``record``, ``rollback``, ``follow_up``, ``status``) read git and the database, call these
functions with what they read, and act on the answers.

* :func:`analysis_plan` — everything an analysis needs, fixed when it starts (rendered PromQL
  included), as JSON for the ``analyses.config`` column, so a restart or a later config change
  never alters a running analysis (:mod:`bot.deployments.planned`, re-exported here).
* :func:`next_step` — what follows an ended analysis: roll back, promote, or only say so.
* :func:`rollback_decision` — whether a deployment may be rolled back now, and why not;
  :func:`decide_rollback` — the answer to a rollback request, or the go-ahead to revert.
* Names: the revert branch, the revert title, Prometheus graph links.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.adapters.forge.names import pull_reference
from bot.canary import prometheus_duration
from bot.deployments.ladder import PAUSED, STEP_BRANCH_PREFIX, STEPPING
from bot.deployments.planned import AnalysisPlan as AnalysisPlan
from bot.deployments.planned import PlannedMetric as PlannedMetric
from bot.deployments.planned import ReadinessPlan as ReadinessPlan
from bot.deployments.planned import analysis_plan as analysis_plan

REVERT_BRANCH_PREFIX = "gitops-bot/revert/"
BOT_ACTOR = "gitops-bot"

# Deployment.status values.
ANALYSING = "analysing"
PASSED = "passed"
FAILED = "failed"
INCONCLUSIVE = "inconclusive"
ROLLING_BACK = "rolling_back"
ROLLED_BACK = "rolled_back"
SUPERSEDED = "superseded"
RECORDED = "recorded"  # merged, but its config has no canary section: nothing to analyse

# Analysis.status values that are measured (the scheduler offers their steps).
ACTIVE_ANALYSIS = ("waiting_rollout", "running")
# ... and every status of an analysis that has not ended: a ladder's next rung being committed,
# or a ladder paused by a person.
IN_PROGRESS_ANALYSIS = (*ACTIVE_ANALYSIS, STEPPING, PAUSED)

_REF_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# --------------------------------------------------------------------------- after the analysis


NextAction = Literal["roll_back", "notify_only", "promote", "mark_healthy", "investigate", "none"]


@dataclass(frozen=True)
class NextStep:
    """What follows an ended canary: the action the follow-up job takes, and how it is announced."""

    action: NextAction
    text: str | None

    @property
    def rolls_back(self) -> bool:
        return self.action == "roll_back"

    @property
    def promotes(self) -> bool:
        return self.action == "promote"


def next_step(plan: AnalysisPlan, status: str) -> NextStep:
    """One answer for the notes that announce the end of a canary and for the job that acts on it,
    so the announcement never promises a rollback or promotion the job does not make."""
    if status == "failed":
        if plan.on_failure == "revert":
            return NextStep("roll_back", "rolling back (git revert)")
        return NextStep("notify_only", "notify only (on_failure: notify)")
    if status == "passed":
        if plan.promote_to:
            return NextStep("promote", f"promoting to {plan.promote_to}")
        return NextStep("mark_healthy", "marked healthy")
    if status == "stopped_inconclusive":
        return NextStep(
            "investigate", "analysis stopped without a verdict: check the metrics and the canary's traffic"
        )
    return NextStep("none", None)


# --------------------------------------------------------------------------- rollback


RollbackVerdict = Literal["proceed", "resume", "already_rolled_back", "refused"]


@dataclass(frozen=True)
class RollbackDecision:
    verdict: RollbackVerdict
    reason: str


def rollback_decision(status: str, *, has_rollback_pr: bool) -> RollbackDecision:
    """May this deployment be rolled back now? Never twice: a rolled-back one stays as it is, and a
    rollback in progress is resumed (its steps are idempotent) rather than started again."""
    if status == ROLLED_BACK:
        return RollbackDecision("already_rolled_back", "this deployment was already rolled back")
    if status == ROLLING_BACK:
        what = "its revert pull request is open" if has_rollback_pr else "a rollback is under way"
        return RollbackDecision("resume", f"rollback already started; {what}")
    if status == SUPERSEDED:
        return RollbackDecision(
            "refused",
            "a newer version of this deployment has merged since; roll back the newer one instead",
        )
    return RollbackDecision("proceed", f"deployment is {status}")


RollbackStatus = Literal[
    "opened", "merged", "already_open", "nothing_to_revert", "refused", "conflict", "dry_run"
]


@dataclass(frozen=True)
class RollbackOutcome:
    status: RollbackStatus
    message: str
    pr_number: int | None = None
    pr_url: str | None = None


class RollbackCandidate(Protocol):
    """The deployment a rollback was asked for, as read from its row."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def merge_commit_sha(self) -> str: ...
    @property
    def repo(self) -> str: ...
    @property
    def rollback_pr_number(self) -> int | None: ...
    @property
    def rollback_pr_url(self) -> str | None: ...


@dataclass(frozen=True)
class RollbackStart:
    """What to do with a rollback request: ``stop`` with ``outcome`` as the answer (audited as a
    refusal when ``audited``), answer a ``dry_run`` with ``outcome``, or ``revert`` for real."""

    action: Literal["stop", "dry_run", "revert"]
    outcome: RollbackOutcome | None = None
    audited: bool = False


def decide_rollback(found: RollbackCandidate | str | None, *, dry_run: bool) -> RollbackStart:
    """``found`` is the deployment, or why there is none (None: the id named no deployment)."""
    if found is None or isinstance(found, str):
        message = f"Nothing to roll back: {found or 'unknown deployment'}."
        return RollbackStart("stop", RollbackOutcome("nothing_to_revert", message), audited=True)
    what = f"{found.name} {found.version}"
    decision = rollback_decision(found.status, has_rollback_pr=found.rollback_pr_number is not None)
    if decision.verdict == "already_rolled_back":
        outcome = RollbackOutcome(
            "refused", f"{what}: {decision.reason}.", found.rollback_pr_number, found.rollback_pr_url
        )
        return RollbackStart("stop", outcome)
    if decision.verdict == "refused":
        message = f"Not rolling back {what}: {decision.reason}."
        return RollbackStart("stop", RollbackOutcome("refused", message), audited=True)
    if decision.verdict == "resume" and found.rollback_pr_number is not None:
        message = (
            f"A rollback of {what} is already open: {pull_reference(found.repo, found.rollback_pr_number)}."
        )
        outcome = RollbackOutcome("already_open", message, found.rollback_pr_number, found.rollback_pr_url)
        return RollbackStart("stop", outcome)
    if dry_run:
        message = f"Dry run: would revert {found.merge_commit_sha[:12]} ({what}) in a pull request."
        return RollbackStart("dry_run", RollbackOutcome("dry_run", message))
    return RollbackStart("revert")


def is_revert_branch(head_ref: str) -> bool:
    return head_ref.startswith(REVERT_BRANCH_PREFIX)


def revert_branch(deployment: str, version: str) -> str:
    """``gitops-bot/revert/<deployment>/<version>``, with characters git refuses replaced."""
    safe_version = _REF_UNSAFE.sub("-", version).strip(".-") or "version"
    safe_deployment = _REF_UNSAFE.sub("-", deployment).strip(".-") or "deployment"
    branch = f"{REVERT_BRANCH_PREFIX}{safe_deployment}/{safe_version}"
    return branch.replace("..", "-").removesuffix(".lock")


def step_branch(deployment: str, version: str, index: int) -> str:
    """``gitops-bot/step/<deployment>/<version>/<rung number>``: the branch of a later rung's commit."""
    safe = revert_branch(deployment, version).removeprefix(REVERT_BRANCH_PREFIX)
    return f"{STEP_BRANCH_PREFIX}{safe}/{index + 1}"


def revert_title(original_title: str | None, deployment: str, version: str) -> str:
    title = (original_title or "").strip() or f"{deployment} {version}"
    return f'Revert "{title}"'


def graph_url(prometheus_url: str, query: str, *, at: datetime | None, window_seconds: int) -> str:
    """A link to the query in Prometheus's graph page, ending at ``at`` over a few windows."""
    params = {
        "g0.expr": query,
        "g0.tab": "0",
        "g0.range_input": prometheus_duration(max(60, window_seconds * 10)),
    }
    if at is not None:
        params["g0.end_input"] = at.strftime("%Y-%m-%d %H:%M:%S")
        params["g0.moment_input"] = at.strftime("%Y-%m-%d %H:%M:%S")
    return f"{prometheus_url.rstrip('/')}/graph?{urllib.parse.urlencode(params)}"


def alert_matches(labels: Mapping[str, str], *, deployment: str, version: str) -> bool:
    """An alert names a deployment under analysis: its ``deployment`` label, and ``version`` if set."""
    if labels.get("deployment") != deployment:
        return False
    wanted = labels.get("version")
    return wanted is None or wanted == version
