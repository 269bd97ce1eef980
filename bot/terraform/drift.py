"""Drift detection: plan each scheduled project on the default branch and keep its issue true.

The leader's periodic task offers one job per due project (:mod:`bot.terraform.drift_schedule`
decides which, and its dedupe key makes a second offer of the same slot harmless). The job plans
the project in a fresh work tree at the default branch's head (no lock, no pull request, the plan
file is not kept), records the check, and opens, updates or closes "Drift in <project>". In
dry-run the check is recorded and the forge is left alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from bot.adapters.forge.port import MAX_COMMENT_LENGTH, Forge, IssueSpec
from bot.adapters.terraform_cli import PlanRequest, PlanResult, run_plans
from bot.adapters.terraform_cli.binaries import BinaryMissing
from bot.queue import JobOffer
from bot.storage.types import utcnow
from bot.terraform.drift_schedule import (
    CHECK_HANDLER,
    DriftStatus,
    drift_status,
    due_checks,
    issue_action,
    issue_title,
)
from bot.terraform.drift_store import DriftRecord, DriftStore
from bot.terraform.planning import project_directory, terraform_runner_for
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
    if not services.dry_run:
        issue_number = _update_issue(services, repo, project, plan, checked_at)
    record = DriftRecord(
        repo,
        project.name,
        project.dir,
        project.workspace,
        plan.status,
        plan.headline,
        plan.head,
        issue_number,
    )
    store.record(record, now=checked_at)
    if plan.status != "failed":  # a failed plan says nothing either way: the gauge keeps its value
        services.metrics.drift_detected.labels(repo=repo, project=project.name).set(plan.status == "drift")
    log.info("drift.checked", repo=repo, project=project.name, status=plan.status, issue=issue_number)
    return record


def plan_default_branch(
    services: Services, config: RepoConfig, repo: str, target: ProjectTarget
) -> DriftPlan:
    """Plan ``target`` in a fresh work tree at the default branch's head (nothing is kept)."""
    if not services.terraform_status().ok:
        return DriftPlan(
            "failed", f"terraform sandbox unavailable: {services.terraform_status().detail}", "", None
        )
    with services.git().worktree(services.settings.clone_url(repo), None) as tree:
        head = tree.head()
        directory = project_directory(tree.path, target)
        if isinstance(directory, str):
            return DriftPlan("failed", f"{directory} at {head[:12]}", "", head)
        runner = terraform_runner_for(services, config, target)
        if isinstance(runner, BinaryMissing):
            return DriftPlan("failed", runner.message, "", head)
        request = PlanRequest(directory=directory, workspace=target.workspace, root=tree.path.resolve())
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
) -> int | None:
    """Open/update or close the project's drift issue as ``issue_action`` says; its number."""
    forge: Forge = services.forge_for_repo(repo)
    title = issue_title(project.name)
    issue = forge.find_open_issue(repo, title)
    action = issue_action(plan.status, issue_open=issue is not None)
    context = _issue_context(project, plan, checked_at)
    if action == "open_or_update":
        body = render(services, "drift_issue.md.j2", **context)
        return forge.open_or_update_issue(repo, IssueSpec(title, body)).issue.number
    if action == "close" and issue is not None:
        forge.close_issue(repo, issue.number, body=render(services, "drift_resolved.md.j2", **context))
        return None
    return issue.number if issue is not None else None


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
