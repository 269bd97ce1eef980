"""Texts of an update: pull request title and body, commit message, supersede comment, outcome.

Every word lives in ``templates/updates/``; this module only gathers the data they show. Rendering
is deterministic for the same plan and source, which is what makes a repeated event a no-op on the
forge too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jinja2

from bot.adapters.forge.port import MAX_COMMENT_LENGTH
from bot.canary import MetricSpec, VllmDefaults, metric_specs_for
from bot.config import Deployment, format_duration
from bot.updates.gates import GateReport
from bot.updates.plan import PendingUpdate, UpdatePlan
from bot.updates.source import UpdateSource

# Room for everything around the diff; a longer diff is cut (the commit has it whole).
MAX_DIFF_CHARS = 40_000


@dataclass(frozen=True)
class CanaryMetric:
    name: str
    threshold: str
    query: str
    informational: bool


@dataclass(frozen=True)
class CanaryPlan:
    """What will watch the deployment after the merge, as the PR body shows it."""

    interval: str
    duration: str
    intervals: int
    failure_limit: int
    min_requests: int
    inconclusive_limit: int
    on_failure: str
    rollback_automerge: bool
    metrics: tuple[CanaryMetric, ...]
    uses_vllm_defaults: bool
    readiness: str | None
    promote_to: str | None
    steps: tuple[tuple[int, str | None], ...] = ()
    """Traffic steps: (weight, how long it is judged; None: not judged), one commit each."""
    steps_via: str = "pull_request"
    shadow: tuple[int, str] | None = None
    """The shadow stage: (percent mirrored, how long it is judged)."""


def canary_plan(deployment: Deployment, defaults: VllmDefaults) -> CanaryPlan | None:
    """None when the deployment has no ``canary`` section (the merge is then not analysed)."""
    canary = deployment.canary
    if canary is None:
        return None
    specs: Sequence[MetricSpec] = metric_specs_for(canary.metrics, defaults)
    readiness = None
    if canary.readiness is not None:
        readiness = (
            f"Deployment {canary.readiness.namespace}/{canary.readiness.deployment} rolled out "
            f"(up to {format_duration(canary.readiness.timeout)})"
        )
    return CanaryPlan(
        interval=format_duration(canary.interval),
        duration=format_duration(canary.duration),
        intervals=canary.intervals,
        failure_limit=canary.failure_limit,
        min_requests=canary.min_requests,
        inconclusive_limit=canary.inconclusive_limit,
        on_failure=canary.on_failure,
        rollback_automerge=canary.rollback.automerge,
        metrics=tuple(
            CanaryMetric(spec.name, spec.threshold_text(), spec.query, spec.informational) for spec in specs
        ),
        uses_vllm_defaults=not canary.metrics,
        readiness=readiness,
        promote_to=deployment.promote.to if deployment.promote is not None else None,
        steps=tuple(
            (step.weight, format_duration(step.duration) if step.duration else None) for step in canary.steps
        ),
        steps_via=canary.steps_via,
        shadow=(
            (canary.shadow.weight, format_duration(canary.shadow.duration))
            if canary.shadow is not None
            else None
        ),
    )


class UpdateTexts:
    """Renders the ``templates/updates`` templates with one Jinja2 environment."""

    def __init__(self, environment: jinja2.Environment) -> None:
        self.environment = environment

    def _render(self, name: str, **context: object) -> str:
        return self.environment.get_template(f"updates/{name}").render(**context)

    def title(self, plan: UpdatePlan) -> str:
        return self._render("pr_title.txt.j2", plan=plan).strip()

    def body(
        self,
        plan: UpdatePlan,
        source: UpdateSource,
        canary: CanaryPlan | None,
        *,
        requested_by: str,
        gates: GateReport | None = None,
    ) -> str:
        diff = plan.diff
        truncated = len(diff) > MAX_DIFF_CHARS
        if truncated:
            diff = diff[:MAX_DIFF_CHARS].rsplit("\n", 1)[0] + "\n"
        text = self._render(
            "pr_body.md.j2",
            plan=plan,
            source=source,
            canary=canary,
            diff=diff,
            diff_truncated=truncated,
            requested_by=requested_by,
            fence=_fence(diff),
            gates=gates,
        )
        if len(text) > MAX_COMMENT_LENGTH:  # only with an absurd number of targets
            text = text[: MAX_COMMENT_LENGTH - 200].rsplit("\n", 1)[0] + "\n\n(cut: the body was too long)\n"
        return text

    def commit_message(self, plan: UpdatePlan, source: UpdateSource, *, requested_by: str) -> str:
        return self._render("commit_message.txt.j2", plan=plan, source=source, requested_by=requested_by)

    def outcome(self, status: str, deployment: str, version: str, **context: object) -> str:
        """The one-line answer for Slack, comments and the audit log."""
        line = self._render(
            "outcome.txt.j2", status=status, deployment=deployment, version=version, **context
        )
        return line.strip()

    def superseded_by_pending(self, version: str, event_id: int) -> str:
        return self._render("superseded_by_pending.txt.j2", version=version, event_id=event_id).strip()

    def superseded_comment(
        self, old: PendingUpdate, plan: UpdatePlan, *, new_number: int, new_url: str
    ) -> str:
        return self._render(
            "superseded_comment.md.j2", old=old, plan=plan, new_number=new_number, new_url=new_url
        )


def _fence(text: str) -> str:
    """A code fence longer than any backtick run in ``text``, so the diff cannot close it early."""
    longest = 0
    run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)
