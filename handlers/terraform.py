"""Pull request events for Terraform: autoplan when a pull request opens or changes; on merge,
apply the projects with ``apply_on: merge``; release its locks and discard its plans when it
merges or closes. Drift detection: the leader's periodic task enqueues the due checks, and each
check plans a project on the default branch (:mod:`bot.terraform.drift`); a drift note posts
what the check found new to the repository's Slack channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import reasons
from bot.adapters.slack_api import SlackRefused
from bot.events.model import PullRequestChanged
from bot.jobs import HandlerContext
from bot.reasons import Ignored
from bot.routing import Router
from bot.terraform import drift
from bot.terraform.drift_notes import NOTE_HANDLER, DriftNote
from bot.terraform.drift_schedule import CHECK_HANDLER
from bot.terraform.projects import modified_projects
from bot.terraform.pull_requests import apply_pull_request, plan_pull_request, release_pull_request
from bot.terraform.results import TerraformRequest
from bot.worker import PermanentJobError

if TYPE_CHECKING:
    from bot.services import Services

router = Router()

DRIFT_DUE_EVERY_SECONDS = 60
JOB_RUNS_PURGE_EVERY_SECONDS = 600
RUNS_PURGE_EVERY_SECONDS = 600

AUTOPLAN_ACTIONS = frozenset({"opened", "synchronize", "reopened"})


@router.register("github", "pull_request", None, name="terraform.pull_request")
def pull_request(ctx: HandlerContext) -> Ignored | None:
    event = ctx.domain
    if not isinstance(event, PullRequestChanged):
        return reasons.not_this_kind("a pull request change", getattr(event, "kind", None))
    services = ctx.services
    if not services.settings.repo_allowed(event.repo):
        return reasons.repo_not_allowed(event.repo)
    if event.action == "closed":
        return _closed(ctx, event)
    if event.action not in AUTOPLAN_ACTIONS:
        return reasons.pull_request_action_not_acted_on(event.repo, event.number, event.action)
    if event.draft:
        return reasons.draft_pull_request(event.repo, event.number)
    if event.is_fork and not services.settings.allow_fork_prs:
        ctx.log.info("terraform.fork_skipped", repo=event.repo, number=event.number)
        return reasons.fork_pull_request(event.repo, event.number)
    if event.head_ref.startswith("gitops-bot/"):
        return reasons.bot_branch(event.repo, event.number)
    loaded = services.repo_config(event.repo, event.installation_id)
    config = loaded.config
    if config is not None and config.projects and not any(p.autoplan.enabled for p in config.projects):
        return reasons.autoplan_disabled(event.repo)
    forge = services.forge_for_repo(event.repo, event.installation_id)
    changed = [item.filename for item in forge.list_changed_files(event.repo, event.number)]
    if not modified_projects(config, changed):
        return reasons.no_terraform_change(event.repo, event.number)
    if services.dry_run:
        services.audit(
            kind="terraform.plan",
            actor=event.author,
            summary=f"autoplan on #{event.number} (dry run: not run)",
            repo=event.repo,
            outcome="dry_run",
        )
        return None
    request = TerraformRequest(event.repo, event.number, event.author, config, event.installation_id)
    plan_pull_request(services, request, autoplan=True)
    return None


def _closed(ctx: HandlerContext, event: PullRequestChanged) -> Ignored | None:
    """A closed pull request: ``apply_on: merge`` projects applied (when merged), locks released."""
    services = ctx.services
    applied = False
    if event.merged and not services.dry_run:
        # apply_on: merge — the approved plan of the merged head, before the locks go.
        loaded = services.repo_config(event.repo, event.installation_id)
        if loaded.config is not None and any(p.apply_on == "merge" for p in loaded.config.projects):
            request = TerraformRequest(
                event.repo, event.number, event.author, loaded.config, event.installation_id
            )
            apply_pull_request(services, request, on_merge=True)
            applied = True
    released = release_pull_request(services, repo=event.repo, number=event.number)
    if released:
        ctx.log.info("terraform.locks_released", repo=event.repo, number=event.number, count=len(released))
    return None if applied or released else reasons.no_locks_held(event.repo, event.number)


@router.register("internal", "terraform", "drift_check", name=CHECK_HANDLER)
def drift_check(ctx: HandlerContext) -> None:
    drift.check_drift(ctx.services, str(ctx.payload["repo"]), str(ctx.payload["project"]))


@router.register("internal", "terraform", "drift_note", name=NOTE_HANDLER)
def drift_note(ctx: HandlerContext) -> None:
    try:
        drift.post_drift_note(ctx.services, DriftNote.from_payload(dict(ctx.payload)))
    except SlackRefused as refused:  # channel_not_found, not_in_channel …: a retry cannot help
        raise PermanentJobError(refused.message) from refused


@router.periodic("terraform.drift_due", every_seconds=DRIFT_DUE_EVERY_SECONDS)
def drift_due(services: Services) -> int:
    """Leader only: one drift check per scheduled project whose slot came (deduplicated)."""
    return drift.enqueue_due_checks(services)


@router.periodic("terraform.job_runs_purge", every_seconds=JOB_RUNS_PURGE_EVERY_SECONDS)
def job_runs_purge(services: Services) -> None:
    """Leader only, with the Kubernetes Job runner: drop the work trees and results of finished,
    abandoned and expired runs (their Jobs are gone with ``ttlSecondsAfterFinished``)."""
    if services.settings.terraform_executor != "kubernetes":
        return
    from bot.adapters.terraform_jobs.store import TerraformJobRuns
    from bot.storage.types import utcnow

    TerraformJobRuns(services.database).purge(utcnow())


@router.periodic("terraform.runs_purge", every_seconds=RUNS_PURGE_EVERY_SECONDS)
def runs_purge(services: Services) -> None:
    """Leader only: drop the Terraform runs (the console's output) older than the saved plans' TTL,
    and end the ones a stopped bot left "running"."""
    from bot.terraform.runs import purge_runs

    purge_runs(services)
