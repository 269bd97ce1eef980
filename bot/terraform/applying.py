"""``apply`` on a pull request (from a comment, or on merge for ``apply_on: merge`` projects).

Each saved plan goes through :func:`bot.terraform.apply_gate.apply_gate` (pure); the ones it lets
through are locked, then applied from the saved plan file in a work tree at the pull request's
head (a plan made at an older head never gets here: the gate calls it stale).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.adapters.forge.comments import post_comment
from bot.adapters.forge.port import Forge, PullRequest
from bot.adapters.terraform_cli import RunContext, TerraformOperations, default_planfile
from bot.adapters.terraform_cli.binaries import BinaryMissing
from bot.adapters.terraform_cli.results import OnLine
from bot.adapters.terraform_cli.workflow import Workflow
from bot.config.permissions import at_least
from bot.terraform.apply_gate import (
    GateDecision,
    PullFacts,
    Verdict,
    applied_on_merge,
    apply_gate,
    head_approvers,
    named_plans,
    policy_refusal,
    pull_facts,
    target_of,
    untouched,
)
from bot.terraform.execution_order import aborts, execution_groups, group_of, run_in_order
from bot.terraform.planning import lock_key, not_run, project_directory, terraform_runner_for, workflow_for
from bot.terraform.projects import ProjectTarget, configured_targets
from bot.terraform.reporting import (
    audit_results,
    job_log,
    notify_results,
    refused_without_sandbox,
    render,
    set_final_status,
)
from bot.terraform.results import APPLIED, ProjectResult, Status, TerraformRequest, apply_headline
from bot.terraform.runs import CommandOf, command_runs, results_link
from bot.terraform.store import PlanStore, SavedPlan, plan_store

if TYPE_CHECKING:
    from bot.config import RepoConfig
    from bot.services import Services


PLAN_GONE = "the saved plan is no longer stored (expired, discarded or replaced by a newer plan)"


def apply_pull_request(
    services: Services, request: TerraformRequest, *, on_merge: bool = False
) -> list[ProjectResult]:
    """``on_merge``: the pull request just merged; apply the projects with ``apply_on: merge``."""
    repo, number, requested_by, config = request.repo, request.number, request.requested_by, request.config
    project, directory, workspace = request.project, request.directory, request.workspace
    extra_args, executable, installation_id = request.extra_args, request.executable, request.installation_id
    forge = services.forge_for_repo(repo, installation_id)
    pr = forge.get_pull_request(repo, number)
    plans = plan_store(services)
    saved = named_plans(
        plans.for_pull(repo, number), project=project, directory=directory, workspace=workspace
    )
    if not saved:
        forge.create_comment(repo, number, f"Nothing to apply: run `{executable} plan` first.")
        return []
    if refused_without_sandbox(services, forge, repo, pr, "apply", executable, requested_by):
        return []
    configured = {t.key: t for t in configured_targets(config)}
    if on_merge:
        saved = applied_on_merge(saved, configured)
        if not saved:
            return []
    pull = pull_facts(pr, approved=_approved(forge, repo, pr), merged=on_merge)
    results, to_apply = _gate(services, repo, pr, saved, configured, pull, executable, requested_by)
    if to_apply:
        order = ApplyOrder(results, to_apply, executable, requested_by)
        results = _apply_targets(services, plans, config, repo, pr, order, extra_args)
    link = results_link(services.settings.public_url, repo, number, results)
    succeeded = set_final_status(forge, repo, pr, "apply", results, APPLIED, link)
    body = render(
        services, "apply_comment.md.j2", results=results, executable=executable, requested_by=requested_by
    )
    post_comment(forge, repo, number, body)
    notify_results(services, config, repo, pr, "apply", results, requested_by)
    audit_results(services, repo, number, "apply", results, requested_by=requested_by, succeeded=succeeded)
    return results


def _approved(forge: Forge, repo: str, pr: PullRequest) -> bool:
    """Approved at the head sha by someone other than the author who has write access."""
    approvers = head_approvers(forge.list_reviews(repo, pr.number), author=pr.author, head_sha=pr.head_sha)
    return any(at_least(forge.permission_level(repo, login), "write") for login in approvers)


def _gate(
    services: Services,
    repo: str,
    pr: PullRequest,
    saved: Sequence[SavedPlan],
    configured: Mapping[str, ProjectTarget],
    pull: PullFacts,
    executable: str,
    requested_by: str,
) -> tuple[list[ProjectResult], list[tuple[ProjectTarget, SavedPlan]]]:
    """The plans the gate stops (with why) and the ones it lets through, locked for this pull request."""
    results: list[ProjectResult] = []
    to_apply: list[tuple[ProjectTarget, SavedPlan]] = []
    for plan in saved:
        target = target_of(plan, configured)
        decision = _decide(services, repo, pr, plan, pull, target, executable)
        if decision.verdict is not Verdict.APPLY:
            status: Status = "no_changes" if decision.verdict is Verdict.NO_CHANGES else "refused"
            results.append(ProjectResult(target, status, decision.reason))
            continue
        taken = services.locks.acquire(
            lock_key(repo, target), pr_number=pr.number, owner=requested_by, pr_url=pr.html_url
        )
        if not taken.acquired:
            results.append(ProjectResult(target, "locked", "", lock=taken.lock))
            continue
        to_apply.append((target, plan))
    return results, to_apply


def _decide(
    services: Services,
    repo: str,
    pr: PullRequest,
    plan: SavedPlan,
    pull: PullFacts,
    target: ProjectTarget,
    executable: str,
) -> GateDecision:
    decision = apply_gate(plan.facts, pull, target, executable=executable)
    if decision.verdict is Verdict.CHECK_BASE:
        undiverged = _untouched_on_base(services, repo, plan, pr)
        decision = apply_gate(plan.facts, pull, target, executable=executable, undiverged=undiverged)
    if decision.verdict is not Verdict.APPLY:
        return decision
    refused = policy_refusal(
        policies_failed=plan.policies_failed,
        approved_at=plan.policies_approved_sha,
        head_sha=pr.head_sha,
        executable=executable,
    )
    return refused or decision


def _untouched_on_base(services: Services, repo: str, plan: SavedPlan, pr: PullRequest) -> bool:
    """Has the base branch left the project's files alone since the plan was made?"""
    mirror = services.git().mirror(services.settings.clone_url(repo))
    return untouched(mirror.changed_files(plan.base_sha or "", pr.base_sha), plan.dir)


@dataclass(frozen=True)
class ApplyOrder:
    """What the gate decided: the plans it stopped (with why) and the ones to apply."""

    gated: Sequence[ProjectResult]
    to_apply: Sequence[tuple[ProjectTarget, SavedPlan]]
    executable: str
    requested_by: str


def _apply_targets(
    services: Services,
    plans: PlanStore,
    config: RepoConfig | None,
    repo: str,
    pr: PullRequest,
    order: ApplyOrder,
    extra_args: tuple[str, ...],
) -> list[ProjectResult]:
    """Every project's result: the gate's as they are, the others applied one after another, group
    by group (:mod:`bot.terraform.execution_order`), in one work tree at the head."""
    gated = {result.target.key: result for result in order.gated}
    saved = {target.key: plan for target, plan in order.to_apply}
    targets = [result.target for result in order.gated] + [target for target, _ in order.to_apply]
    url = services.settings.clone_url(repo)
    of = CommandOf(repo, pr.number, pr.html_url, pr.head_sha, "apply", order.requested_by)
    with command_runs(services, of) as runs, services.git().worktree(url, pr.head_sha) as tree:
        root = tree.path.resolve()

        def apply_one(target: ProjectTarget) -> ProjectResult:
            if target.key in gated:
                return gated[target.key]
            # The project's pinned Terraform version applies what it planned; none installed: refused.
            runner = terraform_runner_for(services, config, target)
            if isinstance(runner, BinaryMissing):
                return ProjectResult(target, "apply_failed", runner.message)
            workflow = workflow_for(config, target)
            # Its run (the console's live output, and the job log) starts with its Terraform.
            on_line = runs.start(target, job_log(services, repo, pr.number, target))
            plan = saved[target.key]
            applied = _apply_one(
                services, runner, plans, repo, pr, root, target, plan, extra_args, workflow, on_line
            )
            return runs.finish(applied)

        return run_in_order(
            execution_groups(targets, lambda target: group_of(config, target)),
            lambda members: [apply_one(target) for target in members],
            failed=lambda result: result.status not in APPLIED,
            abort=aborts(config),
            not_run=lambda target, group: not_run(services, target, group, "apply", order.executable),
        )


def _apply_one(
    services: Services,
    runner: TerraformOperations,
    plans: PlanStore,
    repo: str,
    pr: PullRequest,
    root: Path,
    target: ProjectTarget,
    plan: SavedPlan,
    extra_args: tuple[str, ...],
    workflow: Workflow | None,
    on_line: OnLine,
) -> ProjectResult:
    directory = project_directory(root, target)
    if isinstance(directory, str):
        return ProjectResult(target, "apply_failed", directory)
    # The saved plan (from the database, whichever replica made it) goes into the work tree: the
    # only place a sandboxed Terraform reads.
    planfile = default_planfile(directory, target.workspace)
    if not plans.place_planfile(plan, planfile):
        return ProjectResult(target, "apply_failed", f"{PLAN_GONE}: plan again")
    outcome = asyncio.run(
        runner.init_and_apply(
            directory,
            planfile,
            workspace=target.workspace,
            extra_args=extra_args,
            on_line=on_line,
            root=root,
            context=RunContext(repo, pr.number, pr.head_sha, target.key),
            workflow=workflow,
        )
    )
    output = services.redactor().redact(outcome.output)
    applied = [step for step in outcome.steps if step.step == "apply"]
    if not applied:
        # Nothing was applied (init or a workflow step before the apply failed): the saved plan
        # stays as it was, to be applied once that works.
        return ProjectResult(target, "apply_failed", outcome.error or "terraform init failed", output)
    # The plan file is spent once terraform apply ran, even when a workflow step after it failed.
    plans.record_apply(plan, applied=applied[0].ok, output=output)
    if outcome.ok:
        return ProjectResult(target, "applied", apply_headline(output), output)
    return ProjectResult(target, "apply_failed", outcome.error or "terraform apply failed", output)
