"""What follows an ended canary analysis, run once by the ``finish:<analysis id>`` job: roll back
on failure (or only notify, per ``on_failure``), promote on success, and say so on the pull request.

What to do is :func:`bot.deployments.plan.next_step`, the same answer the Slack notes announce.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.deployments import plan as plans
from bot.deployments.plan import RollbackOutcome
from bot.deployments.rollback import request_rollback
from bot.deployments.store import DeploymentStore, EndedAnalysis
from bot.deployments.texts import render

if TYPE_CHECKING:
    from bot.services import Services

# A rollback that opened or merged its revert says so on the pull request itself (with the link);
# any other outcome (a conflict, already undone, already open) is said here.
_COMMENTED_BY_ROLLBACK = ("opened", "merged")


def finish_analysis(services: Services, analysis_id: int) -> None:
    ended = DeploymentStore(services.database).ended_analysis(analysis_id)
    if ended is None:
        return
    step = plans.next_step(ended.plan, ended.status)
    if not step.rolls_back:
        _comment(services, ended, next_step=_take_next_step(services, ended), rolling_back=False)
        return
    # Why before what: the failed canary and its evidence are on the pull request before the
    # rollback's own comment (revert link), so the thread reads in the order things happened.
    _comment(services, ended, next_step="", rolling_back=True)
    outcome = _roll_back(services, ended)
    if outcome.status not in _COMMENTED_BY_ROLLBACK:
        _comment(services, ended, template="rollback_not_done.md.j2", outcome=outcome)


def _comment(
    services: Services, ended: EndedAnalysis, template: str = "canary_finished.md.j2", **context: Any
) -> None:
    """Say it on the pull request that deployed the version (none in a dry run, or without one)."""
    plan = ended.plan
    if ended.pr_number is None or services.dry_run:
        return
    forge = services.forge_for_repo(ended.repo, plan.installation_id)
    comment = render(
        services,
        template,
        plan=plan,
        status=ended.status,
        reason=ended.reason,
        verdicts=list(ended.verdicts),
        evidence=ended.last_evidence,
        merge_sha=ended.merge_commit_sha,
        **context,
    )
    forge.create_comment(ended.repo, ended.pr_number, comment)


def _roll_back(services: Services, ended: EndedAnalysis) -> RollbackOutcome:
    plan = ended.plan
    return request_rollback(
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


def _take_next_step(services: Services, ended: EndedAnalysis) -> str:
    """Promote when the plan says so; the outcome's sentence, or "" when nothing ran."""
    plan = ended.plan
    if plans.next_step(plan, ended.status).promotes:
        # Imported here: the updates workflow imports the deployment stores at load time.
        from bot.updates.service import promote

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
