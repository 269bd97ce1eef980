"""The PyGithub adapter against the GitHub stand-in: every port method, over real HTTP and git."""

from __future__ import annotations

import pytest

from bot.adapters.forge.github import GitHubForge
from bot.adapters.forge.port import (
    ChangeOutcome,
    CommitState,
    CommitStatus,
    Forge,
    ForgeNotFound,
    ForgeValidationError,
    MergeMethod,
    MergeRefusal,
    PullRequestSpec,
)
from tests.integration.adapters.forge.conftest import REPO
from tests.support.github_standin import GitHubStandIn
from tests.support.github_standin_git import git, text


def spec(branch: str = "gitops-bot/chat-llm-1.1.0", **overrides: object) -> PullRequestSpec:
    values: dict[str, object] = {
        "head": branch,
        "base": "main",
        "title": "Update chat-llm to 1.1.0",
        "body": "Bumps `image.tag`.",
        "labels": ("model-update",),
    }
    values.update(overrides)
    return PullRequestSpec(**values)  # type: ignore[arg-type]


def push_update(standin: GitHubStandIn, branch: str = "gitops-bot/chat-llm-1.1.0", tag: str = "1.1.0") -> str:
    return standin.commit(REPO, branch, {"apps/chat-llm/values-staging.yaml": f"image:\n  tag: {tag}\n"})


def test_the_adapter_satisfies_the_port(forge: GitHubForge) -> None:
    assert isinstance(forge, Forge)


def test_reads_files_at_refs_and_none_when_missing(standin: GitHubStandIn, forge: GitHubForge) -> None:
    push_update(standin)
    assert forge.read_file(REPO, "apps/chat-llm/values-staging.yaml", "main") == b"image:\n  tag: 1.0.0\n"
    assert forge.read_file(REPO, "apps/chat-llm/values-staging.yaml", "gitops-bot/chat-llm-1.1.0") == (
        b"image:\n  tag: 1.1.0\n"
    )
    sha = standin.branch_sha(REPO, "main")
    assert sha is not None
    assert forge.read_file(REPO, "README.md", sha) == b"# gitops\n"
    assert forge.read_file(REPO, ".gitops-bot.yaml", "main") is None
    assert forge.read_file(REPO, "README.md", "no-such-branch") is None
    with pytest.raises(ForgeValidationError, match="directory"):
        forge.read_file(REPO, "apps", "main")


def test_reads_files_over_one_megabyte_through_the_blob_api(
    standin: GitHubStandIn, forge: GitHubForge
) -> None:
    big = ("x" * 1023 + "\n").encode() * 1100
    standin.commit(REPO, "main", {"big.txt": big})
    assert forge.read_file(REPO, "big.txt", "main") == big
    assert standin.requests_to("GET", r"/git/blobs/")


def test_default_branch(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.create_repo("acme/other", {"a": "b"}, default_branch="trunk")
    assert forge.default_branch(REPO) == "main"
    assert forge.default_branch("acme/other") == "trunk"
    with pytest.raises(ForgeNotFound):
        forge.default_branch("acme/missing")


def test_open_or_update_is_idempotent_by_head_branch(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.set_permission(REPO, "alice", "write")
    head = push_update(standin)
    created = forge.open_or_update_pull_request(REPO, spec(reviewers=("alice",)))
    assert created.outcome is ChangeOutcome.CREATED
    pr = created.pull_request
    assert (pr.number, pr.head_sha, pr.base_ref, pr.author) == (1, head, "main", "gitops-bot")
    assert pr.labels == ("model-update",)
    assert pr.requested_reviewers == ("alice",)
    assert pr.html_url.endswith("/acme/gitops/pull/1")

    again = forge.open_or_update_pull_request(REPO, spec(reviewers=("alice",)))
    assert again.outcome is ChangeOutcome.UNCHANGED
    assert again.pull_request.number == 1
    writes = [r for r in standin.requests if r.method != "GET"]

    updated = forge.open_or_update_pull_request(
        REPO, spec(title="Update chat-llm to 1.1.1", labels=("model-update", "staging"), reviewers=("alice",))
    )
    assert updated.outcome is ChangeOutcome.UPDATED
    assert updated.pull_request.title == "Update chat-llm to 1.1.1"
    assert standin.labels(REPO, 1) == ["model-update", "staging"]
    assert len(standin.pulls(REPO)) == 1
    # The unchanged call wrote nothing.
    assert [r for r in standin.requests if r.method != "GET"][: len(writes)] == writes


def test_a_reviewer_who_already_reviewed_is_not_asked_again(
    standin: GitHubStandIn, forge: GitHubForge
) -> None:
    standin.set_permission(REPO, "alice", "write")
    push_update(standin)
    forge.open_or_update_pull_request(REPO, spec(reviewers=("alice",)))
    standin.add_review(REPO, 1, "alice", "APPROVED")
    result = forge.open_or_update_pull_request(REPO, spec(reviewers=("alice",)))
    assert result.outcome is ChangeOutcome.UNCHANGED
    assert standin.pull(REPO, 1).requested_reviewers == []


def test_a_reviewer_who_is_not_a_collaborator_does_not_fail_the_pr(
    standin: GitHubStandIn, forge: GitHubForge
) -> None:
    push_update(standin)
    result = forge.open_or_update_pull_request(REPO, spec(reviewers=("stranger",)))
    assert result.outcome is ChangeOutcome.CREATED
    assert result.pull_request.requested_reviewers == ()


def test_a_pr_opened_meanwhile_by_another_worker_is_updated_not_duplicated(
    standin: GitHubStandIn, forge: GitHubForge
) -> None:
    push_update(standin)
    # Another worker wins the race between our look-up and our create: the look-up misses.
    standin.fail_next(1, status=200, body=[], method="GET", path=r"/pulls$")
    standin.open_pull_request(REPO, head="gitops-bot/chat-llm-1.1.0", title="Old title", user="gitops-bot")
    result = forge.open_or_update_pull_request(REPO, spec())
    assert result.outcome is ChangeOutcome.UPDATED
    assert len(standin.pulls(REPO)) == 1
    assert standin.pull(REPO, 1).title == "Update chat-llm to 1.1.0"
    assert standin.requests_to("POST", r"/pulls$")[0].status == 422


def test_creating_a_pr_for_a_branch_that_was_never_pushed_is_refused(forge: GitHubForge) -> None:
    with pytest.raises(ForgeValidationError, match="Validation Failed"):
        forge.open_or_update_pull_request(REPO, spec(branch="never-pushed"))


def test_reads_a_pull_request_polling_while_mergeability_is_computed(
    standin: GitHubStandIn, forge: GitHubForge
) -> None:
    push_update(standin)
    forge.open_or_update_pull_request(REPO, spec())
    standin.set_mergeable_pending(REPO, 1, reads=2)
    before = len(standin.requests_to("GET", r"/pulls/1$"))
    pr = forge.get_pull_request(REPO, 1)
    assert pr.mergeable is True
    assert pr.mergeable_state == "clean"
    assert len(standin.requests_to("GET", r"/pulls/1$")) - before == 3
    assert pr.is_open and not pr.merged and not pr.is_fork
    assert pr.base_sha == standin.branch_sha(REPO, "main")


def test_a_conflicting_pr_is_not_mergeable(standin: GitHubStandIn, forge: GitHubForge) -> None:
    push_update(standin)
    forge.open_or_update_pull_request(REPO, spec())
    standin.commit(REPO, "main", {"apps/chat-llm/values-staging.yaml": "image:\n  tag: 0.9.0\n"})
    pr = forge.get_pull_request(REPO, 1)
    assert (pr.mergeable, pr.mergeable_state) == (False, "dirty")
    result = forge.merge_pull_request(REPO, 1, expected_head_sha=pr.head_sha)
    assert result.refusal is MergeRefusal.NOT_MERGEABLE
    assert "not mergeable" in result.message


def test_a_pr_from_a_fork_is_flagged(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.create_repo("mallory/gitops", fork_of=REPO)
    standin.commit("mallory/gitops", "evil", {"terraform/staging/main.tf": "# changed\n"})
    number = standin.open_pull_request(REPO, head="mallory:evil", user="mallory")
    pr = forge.get_pull_request(REPO, number)
    assert pr.is_fork and pr.head_repo == "mallory/gitops" and pr.author == "mallory"
    assert forge.list_open_pull_requests(REPO, head_prefix="") == ()
    assert [f.filename for f in forge.list_changed_files(REPO, number)] == ["terraform/staging/main.tf"]


def test_lists_changed_files_across_pages(standin: GitHubStandIn, forge: GitHubForge) -> None:
    files: dict[str, str | bytes | None] = {f"apps/app-{i:03}/values.yaml": f"n: {i}\n" for i in range(130)}
    files["README.md"] = None
    standin.commit(REPO, "many", files)
    git(standin.repo_path(REPO), "update-ref", "refs/heads/rename-base", "refs/heads/main")
    number = standin.open_pull_request(REPO, head="many")
    changed = forge.list_changed_files(REPO, number)
    assert len(changed) == 131
    assert {f.status for f in changed} == {"added", "removed"}
    assert len(standin.requests_to("GET", rf"/pulls/{number}/files")) == 2  # per_page=100, Link next


def test_renames_carry_the_previous_filename(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.commit(
        REPO,
        "move",
        {
            "terraform/staging/main.tf": None,
            "terraform/staging/serving.tf": 'resource "null_resource" "x" {}\n',
        },
    )
    number = standin.open_pull_request(REPO, head="move")
    (changed,) = forge.list_changed_files(REPO, number)
    assert (changed.filename, changed.status, changed.previous_filename) == (
        "terraform/staging/serving.tf",
        "renamed",
        "terraform/staging/main.tf",
    )


def test_lists_open_prs_by_head_branch_prefix(standin: GitHubStandIn, forge: GitHubForge) -> None:
    push_update(standin, "gitops-bot/a", "1.1.0")
    push_update(standin, "gitops-bot/b", "1.2.0")
    push_update(standin, "feature/c", "1.3.0")
    for branch in ("gitops-bot/a", "gitops-bot/b", "feature/c"):
        forge.open_or_update_pull_request(REPO, spec(branch=branch, title=f"PR {branch}"))
    forge.close_pull_request(REPO, 2, comment="Superseded.")
    before = len(standin.requests)
    found = forge.list_open_pull_requests(REPO, head_prefix="gitops-bot/")
    assert [pr.head_ref for pr in found] == ["gitops-bot/a"]
    assert found[0].mergeable is None
    # One listing request: list results never trigger a fetch per PR.
    assert [r.path for r in standin.requests[before:]] == ["/repos/acme/gitops/pulls"]


def test_close_with_a_comment(standin: GitHubStandIn, forge: GitHubForge) -> None:
    push_update(standin)
    forge.open_or_update_pull_request(REPO, spec())
    forge.close_pull_request(REPO, 1, comment="Superseded by a newer version.")
    assert standin.pull(REPO, 1).state == "closed"
    assert [c.body for c in standin.comments(REPO, 1)] == ["Superseded by a newer version."]
    pr = forge.get_pull_request(REPO, 1)
    assert pr.state == "closed" and not pr.merged and pr.mergeable is None


@pytest.mark.parametrize(
    ("method", "parents"),
    [(MergeMethod.MERGE, 2), (MergeMethod.SQUASH, 1), (MergeMethod.REBASE, 1)],
)
def test_merges_for_real_with_the_expected_head(
    standin: GitHubStandIn, forge: GitHubForge, method: MergeMethod, parents: int
) -> None:
    standin.commit(REPO, "main", {"unrelated.txt": "moves main on\n"})
    head = push_update(standin)
    forge.open_or_update_pull_request(REPO, spec())
    result = forge.merge_pull_request(REPO, 1, expected_head_sha=head, method=method)
    assert result.merged and result.refusal is None
    bare = standin.repo_path(REPO)
    assert text(bare, "rev-parse", "refs/heads/main") == result.sha
    line = text(bare, "rev-list", "--parents", "-n", "1", str(result.sha)).split()
    assert len(line) - 1 == parents
    assert text(bare, "show", f"{result.sha}:apps/chat-llm/values-staging.yaml") == "image:\n  tag: 1.1.0"
    pr = forge.get_pull_request(REPO, 1)
    assert pr.merged and pr.merge_commit_sha == result.sha and pr.state == "closed"
    again = forge.merge_pull_request(REPO, 1, expected_head_sha="0" * 40, method=method)
    assert again.refusal is MergeRefusal.ALREADY_MERGED


def test_merge_with_a_moved_head_is_refused(standin: GitHubStandIn, forge: GitHubForge) -> None:
    old = push_update(standin)
    forge.open_or_update_pull_request(REPO, spec())
    push_update(standin, tag="1.1.1")
    main_before = standin.branch_sha(REPO, "main")
    result = forge.merge_pull_request(REPO, 1, expected_head_sha=old)
    assert not result.merged
    assert result.refusal is MergeRefusal.HEAD_MOVED
    assert "Head branch was modified" in result.message
    assert standin.branch_sha(REPO, "main") == main_before
    assert standin.requests_to("PUT", r"/merge$")[0].status == 409


def test_merge_blocked_by_branch_protection_and_on_closed_prs(
    standin: GitHubStandIn, forge: GitHubForge
) -> None:
    head = push_update(standin)
    forge.open_or_update_pull_request(REPO, spec())
    standin.block_merge(REPO, 1, "At least 1 approving review is required by reviewers with write access.")
    blocked = forge.merge_pull_request(REPO, 1, expected_head_sha=head, method=MergeMethod.SQUASH)
    assert blocked.refusal is MergeRefusal.NOT_MERGEABLE
    assert "approving review" in blocked.message
    assert forge.get_pull_request(REPO, 1).mergeable_state == "blocked"
    forge.close_pull_request(REPO, 1)
    closed = forge.merge_pull_request(REPO, 1, expected_head_sha=head)
    assert closed.refusal is MergeRefusal.CLOSED


def test_comments_edits_and_reactions(standin: GitHubStandIn, forge: GitHubForge) -> None:
    push_update(standin)
    forge.open_or_update_pull_request(REPO, spec())
    comment = forge.create_comment(REPO, 1, "Running plan…")
    assert comment.author == "gitops-bot" and comment.body == "Running plan…"
    assert f"#issuecomment-{comment.id}" in comment.html_url
    edited = forge.edit_comment(REPO, comment.id, "Plan: 1 to add, 0 to change, 0 to destroy.")
    assert edited.id == comment.id and edited.body.startswith("Plan: 1 to add")
    forge.add_reaction(REPO, comment.id, "eyes")
    forge.add_reaction(REPO, comment.id, "eyes")  # GitHub answers 200 for an existing reaction
    assert standin.reactions(comment.id) == ["eyes"]
    assert [c.body for c in standin.comments(REPO, 1)] == ["Plan: 1 to add, 0 to change, 0 to destroy."]
    with pytest.raises(ValueError, match="split it"):
        forge.create_comment(REPO, 1, "x" * 70_000)
    with pytest.raises(ForgeNotFound):
        forge.edit_comment(REPO, 999_999, "nope")
    with pytest.raises(ForgeNotFound):
        forge.create_comment(REPO, 42, "no such PR")


def test_commit_statuses(standin: GitHubStandIn, forge: GitHubForge) -> None:
    head = push_update(standin)
    forge.set_commit_status(
        REPO,
        head,
        CommitStatus(
            CommitState.PENDING, "gitops-bot/plan", "x" * 200, target_url="https://bot.example.com/plans/1"
        ),
    )
    forge.set_commit_status(REPO, head, CommitStatus(CommitState.SUCCESS, "gitops-bot/plan", "Plan ready"))
    recorded = standin.statuses(REPO, head)
    assert [s["state"] for s in recorded] == ["pending", "success"]
    assert len(recorded[0]["description"]) == 140 and recorded[0]["description"].endswith("…")
    assert recorded[0]["target_url"] == "https://bot.example.com/plans/1"
    with pytest.raises(ForgeValidationError, match="No commit found"):
        forge.set_commit_status(REPO, "f" * 40, CommitStatus(CommitState.ERROR, "gitops-bot/plan"))


def test_approvals_count_only_from_people_other_than_the_author(
    standin: GitHubStandIn, forge: GitHubForge
) -> None:
    push_update(standin)
    number = standin.open_pull_request(REPO, head="gitops-bot/chat-llm-1.1.0", user="dev")
    standin.add_review(REPO, number, "dev", "APPROVED")  # the author: never counts
    standin.add_review(REPO, number, "bob", "COMMENTED")
    assert not forge.review_summary(REPO, number).approved

    first = standin.add_review(REPO, number, "alice", "APPROVED")
    summary = forge.review_summary(REPO, number)
    assert summary.approved and summary.approved_by == ("alice",) and summary.author == "dev"

    standin.dismiss_review(REPO, number, first)
    assert not forge.review_summary(REPO, number).approved

    standin.add_review(REPO, number, "alice", "APPROVED")
    standin.add_review(REPO, number, "alice", "COMMENTED")  # a later comment keeps the approval
    standin.add_review(REPO, number, "bob", "CHANGES_REQUESTED")
    summary = forge.review_summary(REPO, number)
    assert summary.approved_by == ("alice",) and summary.changes_requested_by == ("bob",)
    assert [r.user for r in forge.list_reviews(REPO, number)] == [
        "dev",
        "bob",
        "alice",
        "alice",
        "alice",
        "bob",
    ]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("admin", "admin"),
        ("maintain", "maintain"),
        ("write", "write"),
        ("triage", "triage"),
        ("read", "read"),
        ("security-reviewer", "read"),  # a custom role falls back to its base level
        (None, "none"),
    ],
)
def test_permission_levels_use_the_role_name(
    standin: GitHubStandIn, forge: GitHubForge, role: str | None, expected: str
) -> None:
    standin.set_permission(REPO, "carol", role)
    assert forge.permission_level(REPO, "carol") == expected


def test_permission_of_an_unknown_user_and_of_the_owner(forge: GitHubForge) -> None:
    assert forge.permission_level(REPO, "nobody-at-all") == "none"
    assert forge.permission_level(REPO, "acme") == "admin"


def test_team_membership_must_be_active(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.add_team_member("acme", "ml-platform", "alice")
    standin.add_team_member("acme", "ml-platform", "bob", state="pending")
    assert forge.is_team_member("acme", "ml-platform", "alice")
    assert not forge.is_team_member("acme", "ml-platform", "bob")
    assert not forge.is_team_member("acme", "ml-platform", "carol")
    assert not forge.is_team_member("acme", "no-such-team", "alice")


def test_team_reviewers(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.add_team("acme", "ml-platform")
    push_update(standin)
    result = forge.open_or_update_pull_request(REPO, spec(reviewers=("team:ml-platform",)))
    assert result.pull_request.requested_teams == ("ml-platform",)
    assert forge.open_or_update_pull_request(REPO, spec(reviewers=("team:ml-platform",))).outcome is (
        ChangeOutcome.UNCHANGED
    )


def test_the_wire_carries_token_auth_and_the_user_agent(standin: GitHubStandIn, forge: GitHubForge) -> None:
    forge.default_branch(REPO)
    request = standin.requests[-1]
    assert request.headers["authorization"] == "token ghp_standin_token"
    assert request.headers["user-agent"] == "gitops-bot"
