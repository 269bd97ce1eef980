"""Policy checks in the pull request workflow: check new plans, and ``approve_policies``.

The Rego files are read from a work tree at the repository's DEFAULT branch, never at the pull
request's head: a pull request must not be able to weaken the policies that judge it. Which
policies apply and what their outcomes mean is :mod:`bot.config.policies` and
:mod:`bot.terraform.policy_results` (pure); the engine runs in :mod:`bot.terraform.policies`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.adapters.forge.names import pull_reference
from bot.adapters.terraform_cli import PlanResult
from bot.config.policies import Policy
from bot.terraform.policies import evaluate_all
from bot.terraform.policy_results import PolicyOutcome
from bot.terraform.projects import ProjectTarget
from bot.terraform.store import plan_store

if TYPE_CHECKING:
    from bot.config import RepoConfig
    from bot.services import Services

Checked = dict[str, tuple[PolicyOutcome, ...]]
"""The outcomes of the policies that checked each target, by ``ProjectTarget.key``."""


def plan_document(outcome: PlanResult) -> dict[str, Any] | None:
    """The plan's ``terraform show -json`` document (the runner's ``show`` step), when it has one."""
    show = next((step for step in outcome.steps if step.step == "show" and step.ok), None)
    if show is None:
        return None
    try:
        document = json.loads(show.stdout)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def check_plans(
    services: Services,
    repo: str,
    config: RepoConfig | None,
    planned: Sequence[tuple[ProjectTarget, PlanResult]],
) -> Checked:
    """Evaluate the policies that apply to each plan with changes; nothing to check: ``{}``."""
    policies = config.policies if config is not None else ()
    to_check = [(t, o) for t, o in planned if o.ok and o.has_changes and _applies(policies, t)]
    if not to_check:
        return {}
    url = services.settings.clone_url(repo)
    # The default branch (ref None), as already fetched by the plan's own work tree.
    with services.git().worktree(url, None, refresh=False) as tree:
        return asyncio.run(_check_all(tree.path, policies, to_check))


def _applies(policies: Sequence[Policy], target: ProjectTarget) -> bool:
    return any(policy.applies_to(target.name) for policy in policies)


async def _check_all(
    root: Path, policies: Sequence[Policy], planned: Sequence[tuple[ProjectTarget, PlanResult]]
) -> Checked:
    checked: Checked = {}
    for target, outcome in planned:
        document = plan_document(outcome)
        if document is None:
            # A plan whose JSON cannot be read cannot pass its policies.
            checked[target.key] = tuple(
                PolicyOutcome(p.name, error="the plan's JSON could not be read")
                for p in policies
                if p.applies_to(target.name)
            )
            continue
        checked[target.key] = await evaluate_all(root, policies, target.name, document)
    return checked


def approve_policies(
    services: Services, *, repo: str, number: int, approved_by: str, installation_id: int | None
) -> str:
    """Record the approval at the pull request's current head for every plan whose policies
    failed; the answer for the pull request."""
    forge = services.forge_for_repo(repo, installation_id)
    head = forge.get_pull_request(repo, number).head_sha
    approved = plan_store(services).approve_policies(repo, number, head)
    projects = ", ".join(f"`{plan.project or plan.dir}`" for plan in approved)
    pull = pull_reference(repo, number)
    services.audit(
        kind="terraform.approve_policies",
        actor=approved_by,
        summary=f"approved failing policies on {pull} at {head[:12]}: {projects or 'none failed'}",
        repo=repo,
    )
    template = services.templates.get_template("terraform/policies_approved.md.j2")
    return template.render(projects=projects, head=head, approved_by=approved_by).strip()
