"""``apply`` on a pull request (from a comment, or on merge for ``apply_on: merge`` projects).

Each saved plan goes through :func:`bot.terraform.apply_gate.apply_gate` (pure); the ones it lets
through are locked, then applied from the saved plan file in a work tree at the pull request's
head (a plan made at an older head never gets here: the gate calls it stale).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.adapters.forge import post_comment
from bot.adapters.forge.port import Forge, PullRequest
from bot.adapters.terraform_cli import ApplyResult, StepResult, TerraformRunner, default_planfile
from bot.adapters.terraform_cli.binaries import BinaryMissing
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
from bot.terraform.planning import lock_key, project_directory, terraform_runner_for
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
        results += _apply_targets(services, plans, config, repo, pr, to_apply, extra_args)
    succeeded = set_final_status(forge, repo, pr, "apply", results, APPLIED)
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


def _apply_targets(
    services: Services,
    plans: PlanStore,
    config: RepoConfig | None,
    repo: str,
    pr: PullRequest,
    items: list[tuple[ProjectTarget, SavedPlan]],
    extra_args: tuple[str, ...],
) -> list[ProjectResult]:
    url = services.settings.clone_url(repo)
    with services.git().worktree(url, pr.head_sha) as tree:
        root = tree.path.resolve()
        results = []
        for target, plan in items:
            # The project's pinned Terraform version applies what it planned; none installed: refused.
            runner = terraform_runner_for(services, config, target)
            if isinstance(runner, BinaryMissing):
                results.append(ProjectResult(target, "apply_failed", runner.message))
                continue
            results.append(
                _apply_one(services, runner, plans, repo, pr.number, root, target, plan, extra_args)
            )
        return results


def _apply_one(
    services: Services,
    runner: TerraformRunner,
    plans: PlanStore,
    repo: str,
    number: int,
    root: Path,
    target: ProjectTarget,
    plan: SavedPlan,
    extra_args: tuple[str, ...],
) -> ProjectResult:
    directory = project_directory(root, target)
    if isinstance(directory, str):
        return ProjectResult(target, "apply_failed", directory)
    # The saved plan (from the database, whichever replica made it) goes into the work tree: the
    # only place a sandboxed Terraform reads.
    planfile = default_planfile(directory, target.workspace)
    if not plans.place_planfile(plan, planfile):
        return ProjectResult(target, "apply_failed", f"{PLAN_GONE}: plan again")
    on_line = job_log(services, repo, number, target)
    init, outcome = asyncio.run(
        _init_and_apply(runner, directory, planfile, root, target.workspace, extra_args, on_line)
    )
    redact = services.redactor().redact
    if outcome is None:
        return ProjectResult(target, "apply_failed", "terraform init failed", redact(init.output))
    output = redact(outcome.output)
    plans.record_apply(plan, applied=outcome.ok, output=output)
    if outcome.ok:
        return ProjectResult(target, "applied", apply_headline(output), output)
    return ProjectResult(target, "apply_failed", outcome.error or "terraform apply failed", output)


async def _init_and_apply(
    runner: TerraformRunner,
    directory: Path,
    planfile: Path,
    root: Path,
    workspace: str,
    extra_args: tuple[str, ...],
    on_line: Callable[[str, str], None],
) -> tuple[StepResult, ApplyResult | None]:
    """``init`` then ``apply`` of the saved plan; no apply when ``init`` failed."""
    init = await runner.init(directory, on_line=on_line, root=root)
    if not init.ok:
        return init, None
    outcome = await runner.apply(
        directory, planfile, workspace=workspace, extra_args=extra_args, on_line=on_line, root=root
    )
    return init, outcome
