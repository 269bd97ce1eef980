"""What follows an ended canary analysis, run once by the ``finish:<analysis id>`` job: roll back
on failure (or only notify, per ``on_failure``), promote on success, and say so on the pull request.

What to do is :func:`bot.deployments.plan.next_step`, the same answer the Slack notes announce.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.deployments import plan as plans
from bot.deployments.rollback import request_rollback
from bot.deployments.store import DeploymentStore, EndedAnalysis
from bot.deployments.texts import render

if TYPE_CHECKING:
    from bot.services import Services


def finish_analysis(services: Services, analysis_id: int) -> None:
    ended = DeploymentStore(services.database).ended_analysis(analysis_id)
    if ended is None:
        return
    done = _take_next_step(services, ended)
    plan = ended.plan
    if ended.pr_number is not None and not services.dry_run:
        forge = services.forge_for_repo(ended.repo, plan.installation_id)
        comment = render(
            services,
            "canary_finished.md.j2",
            plan=plan,
            status=ended.status,
            reason=ended.reason,
            verdicts=list(ended.verdicts),
            evidence=ended.last_evidence,
            next_step=done,
            merge_sha=ended.merge_commit_sha,
        )
        forge.create_comment(ended.repo, ended.pr_number, comment)


def _take_next_step(services: Services, ended: EndedAnalysis) -> str:
    """Roll back or promote when the plan says so; the outcome's sentence, or "" when nothing ran."""
    plan = ended.plan
    step = plans.next_step(plan, ended.status)
    if step.rolls_back:
        outcome = request_rollback(
            services,
            repo=ended.repo,
            deployment=plan.deployment,
            deployment_id=ended.deployment_id,
            requested_by=plans.BOT_ACTOR,
            reason=f"canary analysis failed: {ended.reason}",
            installation_id=plan.installation_id,
            automerge=plan.rollback_automerge,
            evidence=ended.intervals,
        )
        return outcome.message
    if step.promotes:
        # Imported here: the updates workflow imports the deployment stores at load time.
        from bot.updates import promote

        promoted = promote(
            services,
            repo=ended.repo,
            from_deployment=plan.deployment,
            version=plan.version,
            requested_by=plans.BOT_ACTOR,
            installation_id=plan.installation_id,
        )
        return promoted.message
    return ""


__all__ = ["finish_analysis"]
