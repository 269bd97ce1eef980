"""Drift detection: plan each scheduled project on the default branch and keep its issue true.

The leader's periodic task offers one job per due project (:mod:`bot.terraform.drift_schedule`
decides which, and its dedupe key makes a second offer of the same slot harmless). The job plans
the project in a fresh work tree at the default branch's head (no lock, no pull request, the plan
file is not kept), records the check, and opens, updates or closes "Drift in <project>". When
the drift is new, changed or gone, a note for the repository's Slack channel is enqueued with
the check (:mod:`bot.terraform.drift_notes` decides) and posted by its own job, so a Slack outage
never fails or repeats the check. In dry-run the check is recorded, the forge is left alone and
the note says it is a dry run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from bot.adapters.forge.port import MAX_COMMENT_LENGTH, Forge, Issue, IssueSpec
from bot.adapters.slack_api import client_from_settings
from bot.adapters.terraform_cli import PlanRequest, PlanResult, RunContext, run_plans
from bot.adapters.terraform_cli.binaries import BinaryMissing
from bot.notify.blocks import escape, link, sections
from bot.queue import JobOffer
from bot.storage.types import utcnow
from bot.terraform.drift_notes import NOTE_HANDLER, DriftNote, missing_channel, note_kind, noted_after
from bot.terraform.drift_schedule import (
    CHECK_HANDLER,
    DriftStatus,
    drift_status,
    due_checks,
    issue_action,
    issue_title,
)
from bot.terraform.drift_store import DriftRecord, DriftStore
from bot.terraform.planning import project_directory, terraform_runner_for, workflow_for
from bot.terraform.projects import ProjectTarget
from bot.terraform.reporting import render
from bot.terraform.results import plan_headline

if TYPE_CHECKING:
    from bot.config import Project, RepoConfig
    from bot.services import Services

log = structlog.get_logger("gitops_bot.terraform.drift")

# Room for the issue's own text around the plan output (a body has at most MAX_COMMENT_LENGTH).
_OUTPUT_LIMIT = MAX_COMMENT_LENGTH - 4_000


@dataclass(frozen=True)
class DriftPlan:
    """What planning the default branch said about one project."""

    status: DriftStatus
    headline: str
    output: str
    head: str | None


def enqueue_due_checks(services: Services, now: datetime | None = None) -> int:
    """Leader only: offer a check for every scheduled project that is due; how many were due."""
    now = now or utcnow()
    store = DriftStore(services.database)
    offers: list[JobOffer] = []
    for repo in services.settings.gitops_repos:
        try:
            config = services.repo_config(repo).config
        except Exception:  # one unreadable repository must not stop the others' checks
            log.exception("drift.config_unreadable", repo=repo)
            continue
        schedules = _schedules(config)
        for due in due_checks(repo, schedules, now, store.last_checked(repo)) if schedules else []:
            payload = {"repo": due.repo, "project": due.project, "slot": due.slot.isoformat()}
            offers.append(JobOffer(CHECK_HANDLER, payload=payload, dedupe_key=due.dedupe_key))
    if offers:
        with services.database.transaction() as session:
            services.queue.offer_many(session, offers, now=now)
    return len(offers)


def _schedules(config: RepoConfig | None) -> dict[str, str]:
    if config is None:
        return {}
    return {p.name: p.drift.schedule for p in config.projects if p.drift is not None}


def check_drift(services: Services, repo: str, project_name: str) -> DriftRecord | None:
    """Plan the project on the default branch, record the check, and bring its issue up to date."""
    config = services.repo_config(repo, fresh=True).config
    project = config.project(project_name) if config is not None else None
    if config is None or project is None or project.drift is None:
        log.info("drift.no_longer_scheduled", repo=repo, project=project_name)
        return None
    target = ProjectTarget(project.name, project.dir, project.workspace)
    plan = plan_default_branch(services, config, repo, target)
    checked_at = utcnow()
    store = DriftStore(services.database)
    previous = store.get(repo, project.name)
    issue_number = previous.issue_number if previous is not None else None
    issue: Issue | None = None
    if not services.dry_run:
        issue = _update_issue(services, repo, project, plan, checked_at)
        issue_number = issue.number if issue is not None and issue.state == "open" else None
    noted = previous.noted_headline if previous is not None else None
    record = DriftRecord(
        repo,
        project.name,
        project.dir,
        project.workspace,
        plan.status,
        plan.headline,
        plan.head,
        issue_number,
        noted_headline=noted_after(noted, plan.status, plan.headline),
    )
    note = _drift_note(services, config, record, plan, noted, issue)
    with services.database.transaction() as session:  # the note's job commits with its check
        store.record_in(session, record, now=checked_at)
        if note is not None:
            services.queue.offer_many(session, [JobOffer(NOTE_HANDLER, payload=note.payload())])
    if plan.status != "failed":  # a failed plan says nothing either way: the gauge keeps its value
        services.metrics.drift_detected.labels(repo=repo, project=project.name).set(plan.status == "drift")
    log.info("drift.checked", repo=repo, project=project.name, status=plan.status, issue=issue_number)
    return record


def plan_default_branch(
    services: Services, config: RepoConfig, repo: str, target: ProjectTarget
) -> DriftPlan:
    """Plan ``target`` in a fresh work tree at the default branch's head (nothing is kept)."""
    if not services.terraform_status().ok:
        return DriftPlan("failed", f"terraform cannot run: {services.terraform_status().detail}", "", None)
    with services.git().worktree(services.settings.clone_url(repo), None) as tree:
        head = tree.head()
        directory = project_directory(tree.path, target)
        if isinstance(directory, str):
            return DriftPlan("failed", f"{directory} at {head[:12]}", "", head)
        runner = terraform_runner_for(services, config, target)
        if isinstance(runner, BinaryMissing):
            return DriftPlan("failed", runner.message, "", head)
        request = PlanRequest(
            directory=directory,
            workspace=target.workspace,
            root=tree.path.resolve(),
            context=RunContext(repo, 0, head, target.key),
            workflow=workflow_for(config, target),
        )
        (outcome,) = asyncio.run(run_plans(runner, [request], max_parallel=1))
        return _drift_plan(services, outcome, head)


def _drift_plan(services: Services, outcome: PlanResult, head: str) -> DriftPlan:
    status = drift_status(ok=outcome.ok, has_changes=outcome.has_changes)
    output = services.redactor().redact(outcome.output)
    if status == "failed":
        return DriftPlan(status, outcome.error or "terraform plan failed", output, head)
    return DriftPlan(status, plan_headline(outcome.summary), output, head)


def _update_issue(
    services: Services, repo: str, project: Project, plan: DriftPlan, checked_at: datetime
) -> Issue | None:
    """Open/update or close the project's drift issue as ``issue_action`` says; the issue as it
    is now (closed when this check closed it), or None when there is none."""
    forge: Forge = services.forge_for_repo(repo)
    title = issue_title(project.name)
    issue = forge.find_open_issue(repo, title)
    action = issue_action(plan.status, issue_open=issue is not None)
    context = _issue_context(project, plan, checked_at)
    if action == "open_or_update":
        body = render(services, "drift_issue.md.j2", **context)
        return forge.open_or_update_issue(repo, IssueSpec(title, body)).issue
    if action == "close" and issue is not None:
        forge.close_issue(repo, issue.number, body=render(services, "drift_resolved.md.j2", **context))
        return replace(issue, state="closed")
    return issue


def _issue_context(project: Project, plan: DriftPlan, checked_at: datetime) -> dict[str, object]:
    output = plan.output
    if len(output) > _OUTPUT_LIMIT:
        # The end of a plan (its summary and the last changes) says more than its refresh lines.
        output = "… (cut: the start of the output is left out)\n" + output[-_OUTPUT_LIMIT:]
    return {
        "project": project.name,
        "dir": project.dir,
        "workspace": project.workspace,
        "schedule": project.drift.schedule if project.drift is not None else "",
        "head": plan.head or "",
        "headline": plan.headline,
        "output": output,
        "checked_at": checked_at,
    }


def _drift_note(
    services: Services,
    config: RepoConfig,
    record: DriftRecord,
    plan: DriftPlan,
    noted: str | None,
    issue: Issue | None,
) -> DriftNote | None:
    """The Slack note this check calls for, or None (nothing new, or nowhere to post it)."""
    kind = note_kind(noted, plan.status, plan.headline)
    if kind is None:
        return None
    channel = config.notify.slack.channel if config.notify.slack is not None else None
    why_not = missing_channel(channel, slack_configured=services.settings.slack_bot_token is not None)
    if channel is None or why_not is not None:
        # Logged only when a note was due, so once per change of the drift, not every check.
        log.info("drift.note_not_sent", repo=record.repo, project=record.project, note=kind, reason=why_not)
        return None
    return DriftNote(
        kind=kind,
        repo=record.repo,
        project=record.project,
        channel=channel,
        headline=plan.headline,
        previous_headline=noted,
        head=plan.head or "",
        issue_number=issue.number if issue is not None else None,
        issue_url=issue.html_url if issue is not None else None,
        dry_run=services.dry_run,
    )


def post_drift_note(services: Services, note: DriftNote) -> None:
    """Post ``note`` in its channel; ``SlackError`` propagates (the job retries what it can)."""
    client = client_from_settings(services.settings)
    if client is None:
        log.info("drift.note_not_sent", repo=note.repo, project=note.project, reason="no Slack bot token")
        return
    template = services.templates.get_template("slack/drift_note.md.j2")
    text = template.render(note=note, esc=lambda value: escape(str(value or "")), link=link)
    text = "\n".join(line.rstrip() for line in text.strip().splitlines()).strip()
    client.post_message(note.channel, text=text, blocks=sections(text))
