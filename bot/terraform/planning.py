"""``plan`` on a pull request: select the projects, lock them, plan them, save and show the plans.

One work tree at the pull request's head per command; the projects plan in parallel on a bounded
pool; each saved plan is tied to the head sha it was made at (:mod:`bot.terraform.store`). Which
projects is :mod:`bot.terraform.projects` (pure); what the pull request is told is
:mod:`bot.terraform.reporting`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

import structlog

from bot.adapters.forge.comments import post_comment
from bot.adapters.forge.names import pull_head_ref
from bot.adapters.forge.port import Forge, PullRequest
from bot.adapters.terraform_cli import (
    PlanRequest,
    PlanResult,
    RunContext,
    TerraformOperations,
    run_plans,
)
from bot.adapters.terraform_cli.binaries import BinaryMissing
from bot.adapters.terraform_cli.workflow import Workflow
from bot.terraform.execution_order import aborts, execution_groups, group_of, run_in_order
from bot.terraform.locks import LockKey
from bot.terraform.policy_checks import check_plans
from bot.terraform.policy_results import PolicyOutcome, comment_lines
from bot.terraform.projects import ProjectTarget, select_targets
from bot.terraform.reporting import (
    audit_results,
    job_log,
    notify_results,
    refused_without_sandbox,
    render,
    set_final_status,
    set_planning_status,
)
from bot.terraform.results import PLANNED, ProjectResult, Status, TerraformRequest, plan_headline
from bot.terraform.runs import CommandOf, command_runs, results_link, run_urls, status_link
from bot.terraform.store import NewPlan, PlanStore, plan_store

if TYPE_CHECKING:
    from bot.config import RepoConfig
    from bot.services import Services

log = structlog.get_logger("gitops_bot.terraform")


def plan_pull_request(
    services: Services, request: TerraformRequest, *, verbose: bool = False, autoplan: bool = False
) -> list[ProjectResult]:
    repo, number, requested_by, config = request.repo, request.number, request.requested_by, request.config
    project, directory, workspace = request.project, request.directory, request.workspace
    extra_args, executable, installation_id = request.extra_args, request.executable, request.installation_id
    forge = services.forge_for_repo(repo, installation_id)
    pr = forge.get_pull_request(repo, number)
    changed = [item.filename for item in forge.list_changed_files(repo, number)]
    selected = select_targets(config, changed, project=project, directory=directory, workspace=workspace)
    if isinstance(selected, str):
        if not autoplan:
            forge.create_comment(repo, number, f"Nothing to plan: {selected}.")
        return []
    if refused_without_sandbox(services, forge, repo, pr, "plan", executable, requested_by):
        return []
    plans = plan_store(services)
    results, runnable = _take_locks(services, repo, pr, selected, requested_by)
    # While planning, the status links to the pull request's runs (live); then to what ran.
    public_url = services.settings.public_url
    pending_link = status_link(public_url, repo, number, []) if runnable else None
    set_planning_status(forge, repo, pr, len(selected), pending_link)
    # Read before planning: a new plan of a project replaces its row, comment ids included.
    previous = plans.comment_ids(repo, number, selected)
    if runnable:
        order = PlanOrder(selected, results, executable)
        results = _plan_targets(services, plans, config, repo, pr, order, extra_args, requested_by)
    results = _in_selected_order(results, selected)
    link = results_link(public_url, repo, number, results)
    succeeded = set_final_status(forge, repo, pr, "plan", results, PLANNED, link)
    comment = PlanComment(executable, verbose=verbose, requested_by=requested_by)
    _post_plan_comment(services, forge, plans, repo, pr, results, previous, comment)
    notify_results(services, config, repo, pr, "plan", results, requested_by)
    audit_results(services, repo, number, "plan", results, requested_by=requested_by, succeeded=succeeded)
    return results


@dataclass(frozen=True)
class PlanComment:
    """How the command asked for its plan comment."""

    executable: str
    verbose: bool
    requested_by: str


@dataclass(frozen=True)
class PlanOrder:
    """The projects to plan, group by group (:mod:`bot.terraform.execution_order`)."""

    selected: Sequence[ProjectTarget]
    locked: Sequence[ProjectResult]  # not planned: held by another pull request
    executable: str


def lock_key(repo: str, target: ProjectTarget) -> LockKey:
    return LockKey(repo, target.dir, target.workspace, target.name)


def terraform_runner_for(
    services: Services, config: RepoConfig | None, target: ProjectTarget
) -> TerraformOperations | BinaryMissing:
    """The runner of the project's ``terraform_version`` (the default one without), or why none.

    A pinned version that is not installed refuses the project: never a silent fallback.
    """
    project = config.project(target.name) if config is not None and target.name else None
    return services.terraform_for(project.terraform_version if project is not None else None)


def workflow_for(config: RepoConfig | None, target: ProjectTarget) -> Workflow | None:
    """The project's custom workflow (None: the default steps), from the default branch's config."""
    return config.project_workflow(target.name) if config is not None and target.name else None


def not_run(
    services: Services, target: ProjectTarget, group: int, command: str, executable: str
) -> ProjectResult:
    """A project an earlier execution order group's failure kept from running."""
    reason = render(services, "not_run.md.j2", group=group, command=command, executable=executable)
    return ProjectResult(target, "not_run", reason.strip())


def _take_locks(
    services: Services, repo: str, pr: PullRequest, targets: Sequence[ProjectTarget], requested_by: str
) -> tuple[list[ProjectResult], list[ProjectTarget]]:
    """Lock each target for this pull request: the ones held elsewhere, and the ones to plan."""
    locked: list[ProjectResult] = []
    runnable: list[ProjectTarget] = []
    for target in targets:
        taken = services.locks.acquire(
            lock_key(repo, target), pr_number=pr.number, owner=requested_by, pr_url=pr.html_url
        )
        if taken.acquired:
            runnable.append(target)
        else:
            locked.append(ProjectResult(target, "locked", "", lock=taken.lock))
    return locked, runnable


def _in_selected_order(
    results: list[ProjectResult], selected: Sequence[ProjectTarget]
) -> list[ProjectResult]:
    order = {target.key: index for index, target in enumerate(selected)}
    return sorted(results, key=lambda result: order[result.target.key])


def _post_plan_comment(
    services: Services,
    forge: Forge,
    plans: PlanStore,
    repo: str,
    pr: PullRequest,
    results: Sequence[ProjectResult],
    previous: set[int],
    comment: PlanComment,
) -> None:
    """One comment (split when long) showing every result; the plans it replaces are folded away."""
    body = render(
        services,
        "plan_comment.md.j2",
        results=results,
        executable=comment.executable,
        verbose=comment.verbose,
        number=pr.number,
        requested_by=comment.requested_by,
        unsandboxed=services.terraform_status().mode == "local",
        run_urls=run_urls(services.settings.public_url, results),
    )
    posted = [comment.id for comment in post_comment(forge, repo, pr.number, body)]
    plans.remember_comments(repo, pr.number, [r.target for r in results], posted)
    for comment_id in previous - set(posted):
        # Superseded plans are folded away rather than left to pile up.
        superseded = render(services, "plan_superseded.md.j2", head=pr.head_sha)
        forge.edit_comment(repo, comment_id, superseded, number=pr.number)


def project_directory(tree_root: Path, target: ProjectTarget) -> Path | str:
    """The project's directory in the work tree, or why it may not be used.

    Symlinks are resolved first: a directory that is, or passes through, a symlink leading out of
    the work tree is refused before anything runs (even a sandboxed Terraform must not be pointed
    at the bot's own files by a pull request).
    """
    root = tree_root.resolve()
    candidate = (root / target.dir).resolve()
    if candidate != root and not candidate.is_relative_to(root):
        return f"directory `{target.dir}` leads outside the repository (through a symlink); refused"
    if not candidate.is_dir():
        return f"directory `{target.dir}` does not exist"
    return candidate


def _plan_targets(
    services: Services,
    plans: PlanStore,
    config: RepoConfig | None,
    repo: str,
    pr: PullRequest,
    order: PlanOrder,
    extra_args: tuple[str, ...],
    requested_by: str,
) -> list[ProjectResult]:
    """Every selected project's result: the locked ones as they are, the others planned group by
    group in one work tree at the head."""
    url = services.settings.clone_url(repo)
    locked = {result.target.key: result for result in order.locked}
    with services.git().worktree(url, pull_head_ref(repo, pr.number)) as tree:
        if tree.head() != pr.head_sha:
            # The branch moved since the event: plan what the pull request shows now.
            log.info("terraform.head_moved", repo=repo, number=pr.number, head=tree.head())
        head = tree.head()

        def plan_group(members: list[ProjectTarget]) -> list[ProjectResult]:
            todo = [target for target in members if target.key not in locked]
            done = [locked[target.key] for target in members if target.key in locked]
            if not todo:
                return done
            planned = _plan_group(
                services, plans, config, repo, pr, tree.path, head, todo, extra_args, requested_by
            )
            return done + planned

        return run_in_order(
            execution_groups(order.selected, lambda target: group_of(config, target)),
            plan_group,
            failed=lambda result: not result.ok,
            abort=aborts(config),
            not_run=lambda target, group: not_run(services, target, group, "plan", order.executable),
        )


def _plan_group(
    services: Services,
    plans: PlanStore,
    config: RepoConfig | None,
    repo: str,
    pr: PullRequest,
    tree_path: Path,
    head: str,
    targets: list[ProjectTarget],
    extra_args: tuple[str, ...],
    requested_by: str,
) -> list[ProjectResult]:
    """Plan ``targets`` side by side, check their policies and save the plans."""
    results, runnable = _plan_requests(
        services, config, repo, pr.number, tree_path, head, targets, extra_args
    )
    # Each project's run (its live output on the console, and the job log) starts with its Terraform.
    with command_runs(services, CommandOf(repo, pr.number, pr.html_url, head, "plan", requested_by)) as runs:
        requests = [
            replace(request, on_line=runs.start(target, job_log(services, repo, pr.number, target)))
            for target, request, _ in runnable
        ]
        planned = asyncio.run(
            run_plans(
                services.terraform(),
                requests,
                max_parallel=services.settings.terraform_max_parallel_plans,
                runners=[runner for _, _, runner in runnable],
            )
        )
        made = [(target, outcome) for (target, _, _), outcome in zip(runnable, planned, strict=True)]
        # The policies come from the default branch (a work tree of its own), never the head.
        checked = check_plans(services, repo, config, made)
        for target, outcome in made:
            # Saved while the work tree (where Terraform wrote the plan file) still exists.
            new = _new_plan(services, pr, head, outcome, requested_by, checked.get(target.key, ()))
            plans.save(repo, pr.number, target, new)
            results.append(runs.finish(_result(services, target, new)))
    return results


def _plan_requests(
    services: Services,
    config: RepoConfig | None,
    repo: str,
    number: int,
    tree_path: Path,
    head: str,
    targets: Sequence[ProjectTarget],
    extra_args: tuple[str, ...],
) -> tuple[list[ProjectResult], list[tuple[ProjectTarget, PlanRequest, TerraformOperations]]]:
    """A plan request (and its runner) per target whose directory and Terraform version may be
    used; a failed result for the others."""
    failed: list[ProjectResult] = []
    runnable: list[tuple[ProjectTarget, PlanRequest, TerraformOperations]] = []
    for target in targets:
        directory = project_directory(tree_path, target)
        if isinstance(directory, str):
            failed.append(ProjectResult(target, "failed", f"{directory} at {head[:12]}"))
            continue
        runner = terraform_runner_for(services, config, target)
        if isinstance(runner, BinaryMissing):
            failed.append(ProjectResult(target, "failed", runner.message))
            continue
        # The plan file is written inside the work tree (all a sandbox may write), then stored.
        request = PlanRequest(
            directory=directory,
            workspace=target.workspace,
            extra_args=extra_args,
            root=tree_path.resolve(),
            context=RunContext(repo, number, head, target.key),
            workflow=workflow_for(config, target),
        )
        runnable.append((target, request, runner))
    return failed, runnable


def _new_plan(
    services: Services,
    pr: PullRequest,
    head: str,
    outcome: PlanResult,
    requested_by: str,
    policy_outcomes: tuple[PolicyOutcome, ...],
) -> NewPlan:
    """The plan made at ``head`` as stored (its plan file too, so any replica can apply it)."""
    output = services.redactor().redact(outcome.output)
    status: Status
    if outcome.ok:
        status = "planned" if outcome.has_changes else "no_changes"
        headline = plan_headline(outcome.summary)
    else:
        status, headline = "failed", outcome.error or "terraform plan failed"
    # Only a plan with changes is ever applied: the others' plan files are not worth storing.
    planfile = outcome.planfile if status == "planned" else None
    return NewPlan(head, pr.base_sha, status, planfile, headline, output, requested_by, policy_outcomes)


def _result(services: Services, target: ProjectTarget, plan: NewPlan) -> ProjectResult:
    """What the plan comment shows of it, the policy checks' ❌/⚠️ lines included (redacted: a
    policy's message may quote the plan's values)."""
    redact = services.redactor().redact
    lines = tuple(redact(line) for line in comment_lines(plan.policy_outcomes))
    return ProjectResult(target, cast(Status, plan.status), plan.headline, plan.output, policy_lines=lines)
