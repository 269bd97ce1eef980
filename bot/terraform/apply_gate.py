"""Whether a saved plan may be applied: pure functions over facts the workflow gathers.

``apply_gate`` is the decision ``apply`` makes for each saved plan, in Atlantis's order: a project
applied on merge waits for the merge, a plan without changes has nothing to apply, a failed or
expired plan must be made again, a plan made at an older head is stale, and then the project's
``apply_requirements`` (approved, mergeable, undiverged) must hold. Taking the lock comes after
the gate, in the workflow: it is a write, not a decision.

Whether the base branch changed the project's files needs git, so the gate asks for it only when
it matters: it answers ``CHECK_BASE`` when the project requires ``undiverged`` and the base moved
since the plan, and is asked again with ``undiverged`` filled in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from bot.adapters.forge.port import PullRequest, Review
from bot.terraform.projects import ProjectTarget

# GitHub's mergeable states in which nothing stands in the way of a merge.
MERGEABLE_STATES = frozenset({"clean", "unstable", "has_hooks"})


class Verdict(StrEnum):
    APPLY = "apply"
    NO_CHANGES = "no_changes"
    AWAITS_MERGE = "awaits_merge"
    PLAN_FAILED = "plan_failed"
    STALE = "stale"
    EXPIRED = "expired"
    REQUIREMENTS_UNMET = "requirements_unmet"
    CHECK_BASE = "check_base"
    POLICY_FAILED = "policy_failed"


@dataclass(frozen=True)
class GateDecision:
    verdict: Verdict
    reason: str = ""  # the headline the apply comment shows for this project

    @property
    def refused(self) -> bool:
        return self.verdict not in (Verdict.APPLY, Verdict.NO_CHANGES, Verdict.CHECK_BASE)


@dataclass(frozen=True)
class PlanFacts:
    """What the store knows of a project's saved plan."""

    status: str
    has_planfile: bool
    head_sha: str
    base_sha: str | None
    expired: bool = False  # older than GITOPS_BOT_TERRAFORM_PLAN_TTL_SECONDS


@dataclass(frozen=True)
class PullFacts:
    """What the forge says of the pull request now."""

    head_sha: str
    base_sha: str
    approved: bool  # at the head sha, by someone other than the author, with write access
    mergeable: bool
    merged: bool  # apply on merge: the merge itself was the mergeability check


def pull_facts(pr: PullRequest, *, approved: bool, merged: bool) -> PullFacts:
    mergeable = pr.mergeable is True and pr.mergeable_state in MERGEABLE_STATES
    return PullFacts(pr.head_sha, pr.base_sha, approved=approved, mergeable=mergeable, merged=merged)


def apply_gate(
    plan: PlanFacts,
    pull: PullFacts,
    project: ProjectTarget,
    *,
    executable: str,
    undiverged: bool | None = None,
) -> GateDecision:
    """May ``project``'s saved plan be applied now? ``undiverged``: None until looked up."""
    refusal = _plan_refusal(plan, pull, project, executable)
    if refusal is not None:
        return refusal
    requirements = requirements_to_check(project, merged=pull.merged)
    if undiverged is None:
        if "undiverged" in requirements and base_moved(plan, pull):
            return GateDecision(Verdict.CHECK_BASE)
        undiverged = True
    unmet = unmet_requirements(
        requirements, approved=pull.approved, mergeable=pull.mergeable, undiverged=undiverged
    )
    if unmet:
        return GateDecision(Verdict.REQUIREMENTS_UNMET, "apply requirements not met: " + "; ".join(unmet))
    return GateDecision(Verdict.APPLY)


def _plan_refusal(
    plan: PlanFacts, pull: PullFacts, project: ProjectTarget, executable: str
) -> GateDecision | None:
    """Why the saved plan itself cannot be applied, before any requirement is looked at."""
    if project.apply_on == "merge" and not pull.merged:
        return GateDecision(
            Verdict.AWAITS_MERGE,
            "this project is applied when the pull request merges (`apply_on: merge`)",
        )
    if plan.status == "no_changes":
        return GateDecision(Verdict.NO_CHANGES, "No changes to apply.")
    if plan.status == "planned" and plan.expired:
        return GateDecision(Verdict.EXPIRED, f"the plan has expired; run `{executable} plan` again")
    if plan.status != "planned" or not plan.has_planfile:
        return GateDecision(Verdict.PLAN_FAILED, f"its last plan failed: run `{executable} plan` again")
    if plan.head_sha != pull.head_sha:
        return GateDecision(
            Verdict.STALE,
            f"the plan is stale: it was made at {plan.head_sha[:12]}, the pull request is now at "
            f"{pull.head_sha[:12]}; run `{executable} plan` again",
        )
    return None


def policy_refusal(
    *, policies_failed: bool, approved_at: str | None, head_sha: str, executable: str
) -> GateDecision | None:
    """Failing policies block apply until ``approve_policies`` is given at the current head: an
    approval recorded at an older head sha was for other code, so a push takes it back."""
    if not policies_failed or approved_at == head_sha:
        return None
    return GateDecision(
        Verdict.POLICY_FAILED,
        f"policy checks failed; someone with the `approve_policies` permission may comment "
        f"`{executable} approve_policies`",
    )


def requirements_to_check(project: ProjectTarget, *, merged: bool) -> tuple[str, ...]:
    if merged:
        # Merged: GitHub no longer reports mergeability, and the merge itself was the check.
        return tuple(r for r in project.apply_requirements if r != "mergeable")
    return project.apply_requirements


def base_moved(plan: PlanFacts, pull: PullFacts) -> bool:
    """Has the base branch moved since the plan? (A plan that did not record its base: no.)"""
    return bool(plan.base_sha) and plan.base_sha != pull.base_sha


def untouched(changed_on_base: Iterable[str], directory: str) -> bool:
    """Did the base branch leave the project's directory alone?"""
    prefix = "" if directory in ("", ".") else directory.rstrip("/") + "/"
    return not any(path.startswith(prefix) for path in changed_on_base)


def unmet_requirements(
    requirements: Iterable[str], *, approved: bool, mergeable: bool, undiverged: bool
) -> list[str]:
    """The apply requirements not met, as sentences (empty: apply may go ahead)."""
    unmet = []
    for requirement in requirements:
        if requirement == "approved" and not approved:
            unmet.append("the pull request must be approved by someone other than its author")
        elif requirement == "mergeable" and not mergeable:
            unmet.append("the pull request must be mergeable (checks passing, no conflicts)")
        elif requirement == "undiverged" and not undiverged:
            unmet.append("the base branch has moved under this project: update the branch and plan again")
    return unmet


def head_approvers(reviews: Iterable[Review], *, author: str, head_sha: str) -> tuple[str, ...]:
    """Who approves the pull request *at its head sha*: each reviewer's latest APPROVED or
    CHANGES_REQUESTED review is their verdict (DISMISSED withdraws it, COMMENTED changes nothing),
    and an approval counts only if it was given on ``head_sha`` and not by the author. Whether
    the approvers may write to the repository is the caller's question (it needs the forge)."""
    verdicts: dict[str, Review] = {}
    for review in reviews:
        state = str(review.state).upper()
        key = review.user.lower()
        if state in ("APPROVED", "CHANGES_REQUESTED"):
            verdicts[key] = review
        elif state == "DISMISSED":
            verdicts.pop(key, None)
    return tuple(
        sorted(
            review.user
            for key, review in verdicts.items()
            if str(review.state).upper() == "APPROVED"
            and key != author.lower()
            and review.commit_id == head_sha
        )
    )


# --------------------------------------------------------------------------- which plans


class NamedPlan(Protocol):
    @property
    def project(self) -> str: ...
    @property
    def dir(self) -> str: ...
    @property
    def workspace(self) -> str: ...


P = TypeVar("P", bound=NamedPlan)


def plan_key(plan: NamedPlan) -> str:
    """The plan's project, keyed like :attr:`ProjectTarget.key`."""
    return f"{plan.project}|{plan.dir}|{plan.workspace}"


def named_plans(
    plans: Sequence[P], *, project: str | None, directory: str | None, workspace: str | None
) -> list[P]:
    """The plans ``-p``/``-d``/``-w`` name (all of them when none is given)."""
    return [
        plan
        for plan in plans
        if (project is None or plan.project == project)
        and (directory is None or plan.dir == directory)
        and (workspace is None or plan.workspace == workspace)
    ]


def applied_on_merge(plans: Sequence[P], configured: Mapping[str, ProjectTarget]) -> list[P]:
    """The plans of configured projects with ``apply_on: merge``."""
    return [plan for plan in plans if getattr(configured.get(plan_key(plan)), "apply_on", "") == "merge"]


def target_of(plan: NamedPlan, configured: Mapping[str, ProjectTarget]) -> ProjectTarget:
    """The configured project a plan belongs to, or an ad-hoc one (no requirements)."""
    return configured.get(plan_key(plan)) or ProjectTarget(plan.project, plan.dir, plan.workspace)
