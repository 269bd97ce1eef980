"""What ``/gitops status`` says about the pull request it is written on: its Terraform plans (per
project and workspace, with their state and the commit they were made for), the locks it holds,
and the canary analyses of the deployments it made, each linked to the console."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.deployments.ladder import step_label
from bot.storage.models import Analysis, Deployment
from bot.terraform.runs import console_url, pull_runs_path
from bot.terraform.store import plan_store

if TYPE_CHECKING:
    from bot.services import Services


@dataclass(frozen=True)
class PlanLine:
    project: str
    dir: str
    workspace: str
    status: str
    head_sha: str
    expired: bool


@dataclass(frozen=True)
class LockLine:
    project: str
    dir: str
    workspace: str
    owner: str


@dataclass(frozen=True)
class AnalysisLine:
    deployment: str
    version: str
    status: str
    reason: str | None
    url: str | None
    step: str | None = None  # with traffic steps: where the ladder stands ("step 2/3 (50%)")


@dataclass(frozen=True)
class PullStatus:
    number: int
    plans: list[PlanLine]
    locks: list[LockLine]
    analyses: list[AnalysisLine]
    runs_url: str | None


def pull_status(services: Services, repo: str, number: int) -> PullStatus:
    plans = [
        PlanLine(p.project, p.dir, p.workspace, p.status, p.head_sha, p.expired)
        for p in plan_store(services).for_pull(repo, number)
    ]
    locks = [
        LockLine(lock.key.project, lock.key.dir, lock.key.workspace, lock.owner)
        for lock in services.locks.list(repo, pr_number=number)
    ]
    public = services.settings.public_url
    with services.database.sessions() as session:
        rows = session.execute(
            select(
                Deployment.name, Deployment.version, Analysis.id, Analysis.status, Analysis.reason,
                Analysis.step, Analysis.config,
            )
            .join(Analysis, Analysis.deployment_id == Deployment.id)
            .where(Deployment.repo == repo, Deployment.pr_number == number)
            .order_by(Analysis.id)
        ).all()  # fmt: skip
    analyses = [
        AnalysisLine(
            name,
            version,
            status,
            reason,
            console_url(public, f"/analyses/{analysis_id}"),
            step_label(config, step),
        )
        for name, version, analysis_id, status, reason, step, config in rows
    ]
    return PullStatus(number, plans, locks, analyses, console_url(public, pull_runs_path(repo, number)))
