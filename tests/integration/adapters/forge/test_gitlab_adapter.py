"""The GitLab adapter (python-gitlab) against the GitLab stand-in over real git: every port method, the
refusals GitLab answers, its limits, and the faults (5xx, 429 with Retry-After) the adapter absorbs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest

from bot.adapters.forge.comments import post_comment
from bot.adapters.forge.gitlab import GitLabForge, GitLabForgeFactory
from bot.adapters.forge.port import (
    ChangeOutcome,
    CommitState,
    CommitStatus,
    Forge,
    ForgeNotFound,
    ForgeRateLimited,
    IssueSpec,
    MergeRefusal,
    PullRequestSpec,
)
from tests.support.gitlab_standin import GitLabStandIn
from tests.support.requirements import require

PATH = "acme/platform/gitops"  # a subgroup: GitLab paths are not owner/name
REPO = f"gitlab:{PATH}"
TOKEN = "glpat-standin-token-0123456789"
FILES = {"README.md": "# gitops\n", "apps/chat/values.yaml": "image:\n  tag: 1.0.0\n"}


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[GitLabStandIn]:
    require(shutil.which("git") is not None, "the git executable")
    with GitLabStandIn(tmp_path / "gitlab") as running:
        running.add_token(TOKEN, "gitops-bot")
        running.create_repo(PATH, FILES)
        yield running


@pytest.fixture
def forge(standin: GitLabStandIn) -> Iterator[GitLabForge]:
    factory = GitLabForgeFactory(
        url=standin.base_url,
        token=TOKEN,
        backoff_factor=0.0,
        max_retry_wait=2.0,
        mergeable_poll_interval=0.01,
    )
    yield factory.forge()
    factory.close()


def _branch(standin: GitLabStandIn, name: str, files: dict[str, str | None]) -> str:
    return standin.commit(PATH, name, files, f"change on {name}")


def test_it_is_the_forge_port(forge: GitLabForge) -> None:
    assert isinstance(forge, Forge)


def test_reads_files_and_the_default_branch(forge: GitLabForge) -> None:
    assert forge.default_branch(REPO) == "main"
    assert forge.read_file(REPO, "apps/chat/values.yaml", "main") == b"image:\n  tag: 1.0.0\n"
    assert forge.read_file(REPO, "nope.yaml", "main") is None
    assert forge.read_file(REPO, "README.md", "no-such-branch") is None
    with pytest.raises(ForgeNotFound):
        forge.default_branch("gitlab:acme/missing")


def test_open_or_update_is_idempotent_and_only_adds_labels_and_reviewers(
    standin: GitLabStandIn, forge: GitLabForge
) -> None:
    _branch(standin, "gitops-bot/chat/1.1.0", {"apps/chat/values.yaml": "image:\n  tag: 1.1.0\n"})
    standin.set_permission(PATH, "alice", "write")
    spec = PullRequestSpec(
        head="gitops-bot/chat/1.1.0",
        base="main",
        title="Deploy 1.1.0",
        body="why",
        labels=("model-update",),
        reviewers=("alice", "team:sre", "nobody-here"),
    )
    created = forge.open_or_update_pull_request(REPO, spec)
    assert created.outcome is ChangeOutcome.CREATED
    pr = created.pull_request
    assert (pr.number, pr.head_ref, pr.base_ref, pr.labels, pr.requested_reviewers) == (
        1,
        "gitops-bot/chat/1.1.0",
        "main",
        ("model-update",),
        ("alice",),
    )
    assert (pr.mergeable, pr.mergeable_state, pr.is_fork, pr.head_repo) == (True, "clean", False, REPO)
    assert pr.html_url.endswith(f"/{PATH}/-/merge_requests/1")
    assert forge.open_or_update_pull_request(REPO, spec).outcome is ChangeOutcome.UNCHANGED
    standin.pull(PATH, 1).labels.append("keep-me")  # a person's label stays
    updated = forge.open_or_update_pull_request(
        REPO,
        PullRequestSpec(
            head=spec.head,
            base="main",
            title="Deploy 1.1.0 (digest)",
            body="why",
            labels=("model-update", "canary"),
        ),
    )
    assert updated.outcome is ChangeOutcome.UPDATED
    assert set(updated.pull_request.labels) == {"model-update", "keep-me", "canary"}
    assert [p.number for p in forge.list_open_pull_requests(REPO, head_prefix="gitops-bot/")] == [1]
    changed = forge.list_changed_files(REPO, 1)
    assert [(c.filename, c.status) for c in changed] == [("apps/chat/values.yaml", "modified")]


def test_a_draft_is_a_title_prefix_and_a_person_marking_it_ready_keeps_it_ready(
    standin: GitLabStandIn, forge: GitLabForge
) -> None:
    _branch(standin, "gitops-bot/chat/2.0.0", {"apps/chat/values.yaml": "image:\n  tag: 2.0.0\n"})
    spec = PullRequestSpec(
        head="gitops-bot/chat/2.0.0", base="main", title="Deploy 2.0.0", body="", draft=True
    )
    pr = forge.open_or_update_pull_request(REPO, spec).pull_request
    assert pr.draft and pr.title == "Deploy 2.0.0" and pr.mergeable_state == "draft"
    assert standin.pull(PATH, pr.number).draft
    standin.pull(PATH, pr.number).draft = False  # "Mark as ready"
    assert forge.open_or_update_pull_request(REPO, spec).outcome is ChangeOutcome.UNCHANGED
    assert not forge.get_pull_request(REPO, pr.number).draft


def test_merging_at_the_expected_head_and_what_each_refusal_means(
    standin: GitLabStandIn, forge: GitLabForge
) -> None:
    head = _branch(standin, "feature", {"apps/chat/values.yaml": "image:\n  tag: 1.2.0\n"})
    number = standin.open_pull_request(PATH, head="feature")
    assert (
        forge.merge_pull_request(REPO, number, expected_head_sha="0" * 40).refusal is MergeRefusal.HEAD_MOVED
    )
    standin.block_merge(PATH, number, "Branch protection: Maintainers only")
    blocked = forge.merge_pull_request(REPO, number, expected_head_sha=head)
    assert blocked.refusal is MergeRefusal.NOT_MERGEABLE and "Maintainers only" in blocked.message
    assert forge.get_pull_request(REPO, number).mergeable_state == "blocked"
    standin.block_merge(PATH, number, None)
    merged = forge.merge_pull_request(REPO, number, expected_head_sha=head)
    assert merged.merged and merged.sha == standin.branch_sha(PATH, "main")
    # A retried merge whose first attempt went through is that merge, not a refusal.
    again = forge.merge_pull_request(REPO, number, expected_head_sha=head)
    assert again.merged and again.sha == merged.sha
    after = forge.get_pull_request(REPO, number)
    assert (after.state, after.merged, after.merge_commit_sha) == ("closed", True, merged.sha)


def test_a_conflict_is_not_mergeable(standin: GitLabStandIn, forge: GitLabForge) -> None:
    head = _branch(standin, "left", {"apps/chat/values.yaml": "image:\n  tag: 7.0.0\n"})
    number = standin.open_pull_request(PATH, head="left")
    standin.commit(PATH, "main", {"apps/chat/values.yaml": "image:\n  tag: 8.0.0\n"})
    pr = forge.get_pull_request(REPO, number)
    assert (pr.mergeable, pr.mergeable_state) == (False, "dirty")
    assert (
        forge.merge_pull_request(REPO, number, expected_head_sha=head).refusal is MergeRefusal.NOT_MERGEABLE
    )


def test_notes_emoji_and_gitlabs_own_note_limit(standin: GitLabStandIn, forge: GitLabForge) -> None:
    _branch(standin, "feature", {"README.md": "x\n"})
    number = standin.open_pull_request(PATH, head="feature")
    note = forge.create_comment(REPO, number, "planning…")
    forge.add_reaction(REPO, note.id, "eyes", number=number)
    forge.add_reaction(REPO, note.id, "eyes", number=number)  # already there: fine
    assert standin.reactions(note.id) == ["eyes"]
    edited = forge.edit_comment(REPO, note.id, "planned", number=number)
    assert edited.body == "planned" and edited.html_url.endswith(f"#note_{note.id}")
    with pytest.raises(ValueError, match="number="):
        forge.edit_comment(REPO, note.id, "x")
    # 100,000 characters: one note on GitLab (GitHub would need two comments); 1.5 M: two notes.
    assert len(post_comment(forge, REPO, number, "a" * 100_000)) == 1
    assert len(post_comment(forge, REPO, number, ("b" * 999 + "\n") * 1500)) == 2
    assert all(len(n.body) <= 1_000_000 for n in standin.comments(PATH, number))


def test_statuses_map_to_gitlabs_states_and_repeats_are_harmless(
    standin: GitLabStandIn, forge: GitLabForge
) -> None:
    sha = _branch(standin, "feature", {"README.md": "y\n"})
    forge.set_commit_status(REPO, sha, CommitStatus(CommitState.PENDING, "gitops-bot/plan", "planning"))
    forge.set_commit_status(REPO, sha, CommitStatus(CommitState.PENDING, "gitops-bot/plan", "planning"))
    forge.set_commit_status(REPO, sha, CommitStatus(CommitState.FAILURE, "gitops-bot/plan", "x" * 300))
    statuses = standin.statuses(PATH, sha)
    assert [(s["name"], s["status"]) for s in statuses] == [
        ("gitops-bot/plan", "pending"),
        ("gitops-bot/plan", "failed"),
    ]
    assert len(statuses[-1]["description"]) == 140


@pytest.mark.parametrize(
    ("role", "level"),
    [
        ("admin", "admin"),
        ("maintain", "maintain"),
        ("write", "write"),
        ("triage", "triage"),
        ("read", "read"),
        (None, "none"),
    ],
)
def test_access_levels_are_permission_levels(
    standin: GitLabStandIn, forge: GitLabForge, role: str | None, level: str
) -> None:
    standin.set_permission(PATH, "carol", role)
    assert forge.permission_level(REPO, "carol") == level
    assert forge.permission_level(REPO, "no-such-user") == "none"


def test_groups_are_teams_and_approvals_are_reviews(standin: GitLabStandIn, forge: GitLabForge) -> None:
    standin.add_team_member("acme", "sre", "alice")
    standin.add_team_member("acme", "sre", "bob", state="pending")
    assert forge.is_team_member("acme", "sre", "alice")
    assert not forge.is_team_member("acme", "sre", "bob") and not forge.is_team_member("acme", "ml", "alice")
    assert forge.is_team_member("other", "acme/sre", "alice")  # a full group path
    _branch(standin, "feature", {"README.md": "z\n"})
    number = standin.open_pull_request(PATH, head="feature", user="dev")
    standin.add_review(PATH, number, "alice", "APPROVED")
    standin.add_review(PATH, number, "dev", "APPROVED")  # the author's own approval never counts
    summary = forge.review_summary(REPO, number)
    assert summary.approved_by == ("alice",) and summary.author == "dev"
    standin.commit(PATH, "feature", {"README.md": "zz\n"})  # a push resets approvals
    assert not forge.review_summary(REPO, number).approved


def test_issues_one_per_title(forge: GitLabForge) -> None:
    opened = forge.open_or_update_issue(REPO, IssueSpec("Drift in staging", "1 change"))
    assert opened.outcome is ChangeOutcome.CREATED
    assert (
        forge.open_or_update_issue(REPO, IssueSpec("Drift in staging", "1 change")).outcome
        is ChangeOutcome.UNCHANGED
    )
    assert (
        forge.open_or_update_issue(REPO, IssueSpec("Drift in staging", "2 changes")).outcome
        is ChangeOutcome.UPDATED
    )
    forge.close_issue(REPO, opened.issue.number, body="fixed")
    assert forge.find_open_issue(REPO, "Drift in staging") is None


def test_server_errors_and_short_rate_limits_are_retried(standin: GitLabStandIn, forge: GitLabForge) -> None:
    standin.fail_next(502, count=2)
    assert forge.default_branch(REPO) == "main"
    standin.fail_next(429, retry_after=0)
    assert forge.default_branch(REPO) == "main"


def test_a_long_retry_after_is_handed_to_the_job_queue(standin: GitLabStandIn, forge: GitLabForge) -> None:
    standin.fail_next(429, retry_after=600)
    with pytest.raises(ForgeRateLimited) as raised:
        forge.default_branch(REPO)
    assert raised.value.retry_after == 600


def test_the_standin_paginates_as_gitlab_does(standin: GitLabStandIn) -> None:
    """python-gitlab is the judge: offset pages (Link, X-Total) and keyset pages (id_after) walk it all."""
    for n in range(7):
        _branch(standin, f"b{n}", {"README.md": f"{n}\n"})
        standin.open_pull_request(PATH, head=f"b{n}")
    lab = gitlab.Gitlab(standin.base_url, private_token=TOKEN, per_page=3)
    project = lab.projects.get(PATH)
    offset = project.mergerequests.list(iterator=True, sort="asc")
    assert [mr.iid for mr in offset] == list(range(1, 8)) and offset.total == 7
    keyset = lab.http_list(
        f"/projects/{project.id}/merge_requests",
        pagination="keyset",
        order_by="id",
        sort="asc",
        iterator=True,
    )
    assert [mr["iid"] for mr in keyset] == list(range(1, 8))
