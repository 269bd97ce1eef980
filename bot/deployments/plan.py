"""Pure decisions for deployments: how an analysis runs, what follows it, how to undo a deployment.

No I/O here; what a merge deployed is decided in :mod:`bot.deployments.merged`. The workflows
(``record``, ``rollback``, ``follow_up``, ``status``) read git and the database, call these
functions with what they read, and act on the answers.

* :func:`analysis_plan` — everything an analysis needs, fixed when it starts (rendered PromQL
  included), as JSON for the ``analyses.config`` column, so a restart or a later config change
  never alters a running analysis.
* :func:`next_step` — what follows an ended analysis: roll back, promote, or only say so.
* :func:`rollback_decision` — whether a deployment may be rolled back now, and why not;
  :func:`decide_rollback` — the answer to a rollback request, or the go-ahead to revert.
* Names: the revert branch, the revert title, Prometheus graph links.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from bot.canary import (
    IntervalQueries,
    MetricSpec,
    QueryContext,
    RenderedMetric,
    VllmDefaults,
    metric_specs_for,
    prometheus_duration,
    render_interval_queries,
    render_query,
)
from bot.canary.judge import JudgeSettings, direction_of
from bot.config.schema import Canary, Deployment
from bot.deployments.ladder import PAUSED, STEP_BRANCH_PREFIX, STEPPING, LadderPlan, ladder_from_config

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


# --------------------------------------------------------------------------- the analysis plan


@dataclass(frozen=True)
class ReadinessPlan:
    namespace: str
    deployment: str
    timeout_seconds: int


@dataclass(frozen=True)
class PlannedMetric:
    name: str
    query: str
    baseline_query: str | None
    min: float | None = None
    max: float | None = None
    baseline_relative_max: float | None = None
    baseline_relative_min: float | None = None
    # The statistical judge's samples (bot.canary.judge); None without it, or without a direction.
    samples_query: str | None = None
    baseline_samples_query: str | None = None
    direction: str | None = None
    stable_query: str | None = None
    """The metric's query for the stable version (the statistical judge's effect size)."""

    def spec(self, template: str) -> MetricSpec:
        return MetricSpec(
            name=self.name,
            query=template,
            min=self.min,
            max=self.max,
            baseline_relative_max=self.baseline_relative_max,
            baseline_relative_min=self.baseline_relative_min,
        )


@dataclass(frozen=True)
class AnalysisPlan:
    """An analysis, fixed when it starts; stored as JSON in ``analyses.config``."""

    repo: str
    deployment: str
    version: str
    stable_version: str | None
    interval_seconds: int
    duration_seconds: int
    failure_limit: int
    inconclusive_limit: int
    min_requests: int
    on_failure: Literal["revert", "notify"]
    rollback_automerge: bool
    metrics: tuple[PlannedMetric, ...]
    request_count_query: str
    readiness: ReadinessPlan | None = None
    namespace: str | None = None
    promote_to: str | None = None
    channel: str | None = None
    installation_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    ladder: LadderPlan | None = None
    """The traffic steps (None: the whole duration at the weight the update wrote)."""
    judge: JudgeSettings = field(default_factory=JudgeSettings)

    # The protocol bot.canary.decide reads.
    @property
    def duration(self) -> int:
        return self.duration_seconds

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["metrics"] = [asdict(metric) for metric in self.metrics]
        data["extra"] = dict(self.extra)
        data["ladder"] = self.ladder.to_json() if self.ladder is not None else None
        data["judge"] = asdict(self.judge)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnalysisPlan:
        readiness = data.get("readiness")
        return cls(
            repo=data["repo"],
            deployment=data["deployment"],
            version=data["version"],
            stable_version=data.get("stable_version"),
            interval_seconds=int(data["interval_seconds"]),
            duration_seconds=int(data["duration_seconds"]),
            failure_limit=int(data["failure_limit"]),
            inconclusive_limit=int(data["inconclusive_limit"]),
            min_requests=int(data["min_requests"]),
            on_failure=data["on_failure"],
            rollback_automerge=bool(data["rollback_automerge"]),
            metrics=tuple(PlannedMetric(**metric) for metric in data["metrics"]),
            request_count_query=data["request_count_query"],
            readiness=ReadinessPlan(**readiness) if readiness else None,
            namespace=data.get("namespace"),
            promote_to=data.get("promote_to"),
            channel=data.get("channel"),
            installation_id=data.get("installation_id"),
            extra=dict(data.get("extra") or {}),
            ladder=LadderPlan.from_json(data["ladder"]) if data.get("ladder") else None,
            judge=JudgeSettings(**data["judge"]) if data.get("judge") else JudgeSettings(),
        )

    def interval_queries(self, *, hard_only: bool = False) -> IntervalQueries:
        """The rendered queries as ``bot.canary`` evaluates them (templates are not needed again);
        ``hard_only``: without the baseline bounds (the statistical judge replaces them)."""
        return IntervalQueries(
            metrics=tuple(
                RenderedMetric(
                    spec=_hard(metric.spec(metric.query)) if hard_only else metric.spec(metric.query),
                    query=metric.query,
                    baseline_query=None if hard_only else metric.baseline_query,
                )
                for metric in self.metrics
            ),
            request_count_query=self.request_count_query,
        )

    def queries(self) -> tuple[str, ...]:
        return self.interval_queries().queries()


def _hard(spec: MetricSpec) -> MetricSpec:
    return dataclasses.replace(spec, baseline_relative_max=None, baseline_relative_min=None)


def analysis_plan(
    *,
    repo: str,
    deployment: Deployment,
    canary: Canary,
    version: str,
    stable_version: str | None,
    defaults: VllmDefaults,
    channel: str | None = None,
    installation_id: int | None = None,
    shadow_problem: str | None = None,
) -> AnalysisPlan:
    """Render every query once, for the canary and (for baseline bounds) the stable version.
    ``shadow_problem``: why the configured shadow stage cannot run (it is then left out).

    Raises ``bot.canary.QueryTemplateError`` with the metric's name when a template is unusable.
    """
    readiness = canary.readiness
    namespace = readiness.namespace if readiness is not None else None
    specs = metric_specs_for(canary.metrics, defaults)
    context = QueryContext.create(
        deployment=deployment.name, version=version, interval=canary.interval, namespace=namespace
    )
    ladder = ladder_from_config(canary, shadow_problem=shadow_problem)
    judge = JudgeSettings(
        canary.judge.kind,
        canary.judge.confidence,
        canary.judge.min_samples,
        canary.judge.min_effect,
        canary.judge.sample_step,
    )
    request_count_template = defaults.request_count_query()
    rendered = render_interval_queries(
        specs, context, request_count_template=request_count_template, stable_version=stable_version
    )
    return AnalysisPlan(
        repo=repo,
        deployment=deployment.name,
        version=version,
        stable_version=stable_version,
        interval_seconds=canary.interval,
        duration_seconds=canary.duration if ladder is None else ladder.total_seconds,
        failure_limit=canary.failure_limit,
        inconclusive_limit=canary.inconclusive_limit,
        min_requests=canary.min_requests,
        on_failure=canary.on_failure,
        rollback_automerge=canary.rollback.automerge,
        metrics=tuple(
            PlannedMetric(
                name=item.spec.name,
                query=item.query,
                baseline_query=item.baseline_query,
                min=item.spec.min,
                max=item.spec.max,
                baseline_relative_max=item.spec.baseline_relative_max,
                baseline_relative_min=item.spec.baseline_relative_min,
                **_samples(item.spec, judge, context, stable_version),
            )
            for item in rendered.metrics
        ),
        judge=judge,
        request_count_query=rendered.request_count_query,
        readiness=(
            ReadinessPlan(readiness.namespace, readiness.deployment, readiness.timeout)
            if readiness is not None
            else None
        ),
        namespace=namespace,
        promote_to=deployment.promote.to if deployment.promote is not None else None,
        channel=channel,
        installation_id=installation_id,
        ladder=ladder,
    )


def _samples(
    spec: MetricSpec, judge: JudgeSettings, context: QueryContext, stable_version: str | None
) -> dict[str, str | None]:
    """The statistical judge's per-replica samples queries for one metric, canary and stable: the
    template rendered with a window of two scrapes (a rate needs two points)."""
    direction = direction_of(spec)
    if not judge.statistical or direction is None or stable_version is None:
        return {}
    template = spec.samples_query or spec.query
    window = QueryContext.create(
        deployment=context.deployment,
        version=context.version,
        interval=2 * judge.sample_step_seconds,
        namespace=context.namespace,
    )
    return {
        "samples_query": render_query(template, window),
        "baseline_samples_query": render_query(template, window.for_version(stable_version)),
        "direction": direction,
        "stable_query": render_query(spec.query, context.for_version(stable_version)),
    }


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
        message = f"A rollback of {what} is already open: #{found.rollback_pr_number}."
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
