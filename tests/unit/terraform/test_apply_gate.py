"""Whether a saved plan may be applied: the apply gate, the requirements and who approves, as tables."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from bot.adapters.forge.port import PullRequest, Review
from bot.terraform.apply_gate import (
    GateDecision,
    PlanFacts,
    PullFacts,
    Verdict,
    applied_on_merge,
    apply_gate,
    head_approvers,
    named_plans,
    pull_facts,
    requirements_to_check,
    target_of,
    unmet_requirements,
    untouched,
)
from bot.terraform.projects import ProjectTarget

HEAD, OLD = "h" * 40, "o" * 40
BASE, NEW_BASE = "b" * 40, "n" * 40

PLANNED = PlanFacts(status="planned", has_planfile=True, head_sha=HEAD, base_sha=BASE)
READY = PullFacts(head_sha=HEAD, base_sha=BASE, approved=True, mergeable=True, merged=False)
ALL = ("approved", "mergeable", "undiverged")

APPROVAL = "the pull request must be approved by someone other than its author"
MERGEABLE = "the pull request must be mergeable (checks passing, no conflicts)"
DIVERGED = "the base branch has moved under this project: update the branch and plan again"


def project(*requirements: str, apply_on: str = "comment") -> ProjectTarget:
    return ProjectTarget("staging", "terraform/staging", "default", requirements, apply_on)


@pytest.mark.parametrize(
    ("plan", "pull", "target", "verdict", "reason"),
    [
        (PLANNED, READY, project(*ALL), Verdict.APPLY, ""),
        (PLANNED, READY, project(), Verdict.APPLY, ""),
        (
            PLANNED,
            READY,
            project(apply_on="merge"),
            Verdict.AWAITS_MERGE,
            "this project is applied when the pull request merges (`apply_on: merge`)",
        ),
        (PLANNED, replace(READY, merged=True), project(apply_on="merge"), Verdict.APPLY, ""),
        (
            replace(PLANNED, status="no_changes"),
            READY,
            project(*ALL),
            Verdict.NO_CHANGES,
            "No changes to apply.",
        ),
        # no_changes comes before every requirement: nothing to apply is not a refusal
        (
            replace(PLANNED, status="no_changes"),
            replace(READY, approved=False),
            project("approved"),
            Verdict.NO_CHANGES,
            "No changes to apply.",
        ),
        (
            replace(PLANNED, status="failed"),
            READY,
            project(),
            Verdict.PLAN_FAILED,
            "its last plan failed: run `/gitops plan` again",
        ),
        (
            replace(PLANNED, has_planfile=False),
            READY,
            project(),
            Verdict.PLAN_FAILED,
            "its last plan failed: run `/gitops plan` again",
        ),
        (
            replace(PLANNED, head_sha=OLD),
            READY,
            project(),
            Verdict.STALE,
            f"the plan is stale: it was made at {OLD[:12]}, the pull request is now at {HEAD[:12]}; "
            "run `/gitops plan` again",
        ),
        # an expired plan (its file dropped or not yet) must be made again, stale or not
        (
            replace(PLANNED, expired=True),
            READY,
            project(*ALL),
            Verdict.EXPIRED,
            "the plan has expired; run `/gitops plan` again",
        ),
        (
            replace(PLANNED, expired=True, has_planfile=False, head_sha=OLD),
            replace(READY, approved=False),
            project("approved"),
            Verdict.EXPIRED,
            "the plan has expired; run `/gitops plan` again",
        ),
        # an expired plan without changes still has nothing to apply; a failed one still failed
        (
            replace(PLANNED, status="no_changes", expired=True),
            READY,
            project(),
            Verdict.NO_CHANGES,
            "No changes to apply.",
        ),
        (
            replace(PLANNED, status="applied", expired=True, has_planfile=False),
            READY,
            project(),
            Verdict.PLAN_FAILED,
            None,
        ),
        # a stale plan is refused as stale even when the requirements fail too
        (
            replace(PLANNED, head_sha=OLD),
            replace(READY, approved=False),
            project("approved"),
            Verdict.STALE,
            None,
        ),
        (
            PLANNED,
            replace(READY, approved=False),
            project("approved"),
            Verdict.REQUIREMENTS_UNMET,
            f"apply requirements not met: {APPROVAL}",
        ),
        (
            PLANNED,
            replace(READY, approved=False, mergeable=False),
            project("approved", "mergeable"),
            Verdict.REQUIREMENTS_UNMET,
            f"apply requirements not met: {APPROVAL}; {MERGEABLE}",
        ),
        # requirements the project does not name are not checked
        (PLANNED, replace(READY, approved=False, mergeable=False), project("undiverged"), Verdict.APPLY, ""),
        # merged: mergeability is no longer reported, and the merge was the check
        (PLANNED, replace(READY, mergeable=False, merged=True), project("mergeable"), Verdict.APPLY, ""),
        # the base moved: only then, and only when the project requires it, is git asked
        (PLANNED, replace(READY, base_sha=NEW_BASE), project("undiverged"), Verdict.CHECK_BASE, ""),
        (PLANNED, replace(READY, base_sha=NEW_BASE), project("approved"), Verdict.APPLY, ""),
        (
            replace(PLANNED, base_sha=None),
            replace(READY, base_sha=NEW_BASE),
            project(*ALL),
            Verdict.APPLY,
            "",
        ),
        (
            replace(PLANNED, head_sha=OLD),
            replace(READY, base_sha=NEW_BASE),
            project(*ALL),
            Verdict.STALE,
            None,
        ),
    ],
)
def test_apply_gate(
    plan: PlanFacts, pull: PullFacts, target: ProjectTarget, verdict: Verdict, reason: str | None
) -> None:
    decision = apply_gate(plan, pull, target, executable="/gitops")
    assert decision.verdict is verdict
    if reason is not None:
        assert decision.reason == reason
    assert decision.refused == (verdict not in (Verdict.APPLY, Verdict.NO_CHANGES, Verdict.CHECK_BASE))


@pytest.mark.parametrize(
    ("undiverged", "expected"),
    [
        (True, GateDecision(Verdict.APPLY)),
        (False, GateDecision(Verdict.REQUIREMENTS_UNMET, f"apply requirements not met: {DIVERGED}")),
    ],
)
def test_apply_gate_with_the_base_checked(undiverged: bool, expected: GateDecision) -> None:
    moved = replace(READY, base_sha=NEW_BASE)
    decision = apply_gate(PLANNED, moved, project("undiverged"), executable="/gitops", undiverged=undiverged)
    assert decision == expected


def test_the_executable_is_named_in_the_reason() -> None:
    decision = apply_gate(replace(PLANNED, status="failed"), READY, project(), executable="atlantis")
    assert decision.reason == "its last plan failed: run `atlantis plan` again"


@pytest.mark.parametrize(
    ("mergeable", "state", "expected"),
    [
        (True, "clean", True),
        (True, "unstable", True),
        (True, "has_hooks", True),
        (True, "blocked", False),
        (True, "behind", False),
        (False, "dirty", False),
        (None, "unknown", False),  # still being computed: not mergeable yet
    ],
)
def test_pull_facts_mergeable(mergeable: bool | None, state: str, expected: bool) -> None:
    pr = PullRequest(
        number=7,
        title="t",
        body="",
        state="open",
        merged=False,
        draft=False,
        author="dev",
        head_ref="feature",
        head_sha=HEAD,
        head_repo="acme/infra",
        base_ref="main",
        base_sha=BASE,
        base_repo="acme/infra",
        is_fork=False,
        mergeable=mergeable,
        mergeable_state=state,
        merge_commit_sha=None,
        html_url="https://github.example/acme/infra/pull/7",
    )
    facts = pull_facts(pr, approved=True, merged=False)
    assert facts == PullFacts(HEAD, BASE, approved=True, mergeable=expected, merged=False)


@pytest.mark.parametrize(
    ("merged", "expected"),
    [(False, ("approved", "mergeable", "undiverged")), (True, ("approved", "undiverged"))],
)
def test_requirements_to_check(merged: bool, expected: tuple[str, ...]) -> None:
    assert requirements_to_check(project(*ALL), merged=merged) == expected


@pytest.mark.parametrize(
    ("changed", "directory", "expected"),
    [
        ((), "terraform/staging", True),
        (("terraform/prod/main.tf",), "terraform/staging", True),
        (("terraform/staging/main.tf",), "terraform/staging", False),
        (("terraform/staging/main.tf",), "terraform/staging/", False),
        (("terraform/staging-blue/main.tf",), "terraform/staging", True),  # a sibling, not inside
        (("README.md",), ".", False),  # the root project holds every file
        (("README.md",), "", False),
    ],
)
def test_untouched(changed: tuple[str, ...], directory: str, expected: bool) -> None:
    assert untouched(changed, directory) is expected


@pytest.mark.parametrize(
    ("state", "unmet"),
    [
        ({"approved": True, "mergeable": True, "undiverged": True}, 0),
        ({"approved": False, "mergeable": True, "undiverged": True}, 1),
        ({"approved": False, "mergeable": False, "undiverged": False}, 3),
    ],
)
def test_apply_requirements(state: dict[str, bool], unmet: int) -> None:
    assert len(unmet_requirements(("approved", "mergeable", "undiverged"), **state)) == unmet
    assert unmet_requirements((), approved=False, mergeable=False, undiverged=False) == []


@pytest.mark.parametrize(
    ("reviews", "approvers"),
    [
        ([Review("alice", "APPROVED", HEAD)], ("alice",)),
        ([Review("alice", "APPROVED", OLD)], ()),  # approved an older head
        ([Review("dev", "APPROVED", HEAD)], ()),  # the author
        ([Review("alice", "APPROVED", HEAD), Review("alice", "CHANGES_REQUESTED", HEAD)], ()),
        ([Review("alice", "APPROVED", HEAD), Review("alice", "COMMENTED", HEAD)], ("alice",)),
        ([Review("alice", "APPROVED", HEAD), Review("alice", "DISMISSED", HEAD)], ()),
        ([Review("alice", "APPROVED", OLD), Review("alice", "APPROVED", HEAD)], ("alice",)),
        ([Review("bob", "APPROVED", HEAD), Review("Alice", "APPROVED", HEAD)], ("Alice", "bob")),
        ([Review("alice", "APPROVED", None)], ()),
    ],
)
def test_head_approvers(reviews: list[Review], approvers: tuple[str, ...]) -> None:
    assert head_approvers(reviews, author="Dev", head_sha=HEAD) == approvers


@dataclass(frozen=True)
class Saved:
    project: str
    dir: str
    workspace: str = "default"


SAVED = [
    Saved("staging", "terraform/staging"),
    Saved("", "infra", "blue"),
    Saved("shared", "terraform/shared"),
]
CONFIGURED = {
    "staging|terraform/staging|default": project("approved"),
    "shared|terraform/shared|default": ProjectTarget("shared", "terraform/shared", apply_on="merge"),
}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, SAVED),
        ({"project": "staging"}, SAVED[:1]),
        ({"directory": "infra"}, SAVED[1:2]),
        ({"workspace": "blue"}, SAVED[1:2]),
        ({"directory": "infra", "workspace": "default"}, []),
        ({"project": "nope"}, []),
    ],
)
def test_named_plans(flags: dict[str, str], expected: list[Saved]) -> None:
    options = {"project": None, "directory": None, "workspace": None, **flags}
    assert named_plans(SAVED, **options) == expected


def test_only_configured_apply_on_merge_projects_apply_on_merge() -> None:
    assert applied_on_merge(SAVED, CONFIGURED) == SAVED[2:]


def test_a_plan_of_an_unconfigured_directory_has_no_requirements() -> None:
    assert target_of(SAVED[0], CONFIGURED) == project("approved")
    assert target_of(SAVED[1], CONFIGURED) == ProjectTarget("", "infra", "blue")
