"""Telling people where the ladder stands: a comment on the pull request that deployed the version,
and a note in its Slack thread (whose top message shows the rung and the Pause/Resume buttons)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from bot.deployments.ladder import ladder_rows
from bot.deployments.ladder_store import LadderStore
from bot.deployments.plan import AnalysisPlan
from bot.deployments.step_commit import StepCommit, StepRefused
from bot.deployments.texts import render
from bot.notify import CanaryStep

if TYPE_CHECKING:
    from bot.services import Services

StepEvent = Literal["committed", "stuck", "paused", "resumed", "promoted"]


def tell_step(
    services: Services,
    plan: AnalysisPlan,
    analysis_id: int,
    pr_number: int | None,
    to: int,
    written: StepCommit,
) -> None:
    _tell(services, plan, analysis_id, pr_number, to, "committed", reason=None, sha=written.sha,
          pr_url=written.pr_url, by=None)  # fmt: skip


def tell_stuck(
    services: Services,
    plan: AnalysisPlan,
    analysis_id: int,
    pr_number: int | None,
    to: int,
    refused: StepRefused,
) -> None:
    _tell(services, plan, analysis_id, pr_number, to, "stuck", reason=refused.reason, sha=None,
          pr_url=refused.pr_url, by=None)  # fmt: skip


def tell_control(
    services: Services,
    plan: AnalysisPlan,
    analysis_id: int,
    pr_number: int | None,
    step: int,
    event: StepEvent,
    *,
    by: str,
    comment: bool,
) -> None:
    """A person paused, resumed or promoted: Slack hears of it (the comment's answer is the reply
    on the pull request, so ``comment`` is False for commands typed there)."""
    _tell(services, plan, analysis_id, pr_number if comment else None, step, event, reason=None, sha=None,
          pr_url=None, by=by)  # fmt: skip


def _tell(
    services: Services,
    plan: AnalysisPlan,
    analysis_id: int,
    pr_number: int | None,
    step: int,
    event: StepEvent,
    *,
    reason: str | None,
    sha: str | None,
    pr_url: str | None,
    by: str | None,
) -> None:
    ladder = plan.ladder
    assert ladder is not None
    rows = ladder_rows(ladder, LadderStore(services.database).rungs(analysis_id))
    if pr_number is not None and not services.dry_run:
        forge = services.forge_for_repo(plan.repo, plan.installation_id)
        comment = render(
            services, "canary_step.md.j2", plan=plan, ladder=ladder, rows=rows, step=step, event=event,
            reason=reason, sha=sha, step_pr_url=pr_url, by=by,
        )  # fmt: skip
        forge.create_comment(plan.repo, pr_number, comment)
    services.notifier.notify(
        CanaryStep(
            repo=plan.repo, channel=plan.channel, dry_run=services.dry_run, deployment=plan.deployment,
            version=plan.version, step=step + 1, steps=len(ladder.rungs), label=ladder.label(step),
            weight=ladder.weight(step),
            event=event, reason=reason, commit_sha=sha, pr_url=pr_url, by=by,
        )
    )  # fmt: skip


__all__ = ["tell_control", "tell_step", "tell_stuck"]
