"""The local forge against the port's contract, on real git and the real database (SQLite and
PostgreSQL): pull requests by head branch, merges (merge, squash, rebase; a conflict and a moved
head refused), comments and reactions, statuses, reviews, issues numbered apart, and the events
it reports for the bot's handlers."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.forge.local.forge import LocalForge
from bot.adapters.forge.local.repos import LocalRepos
from bot.adapters.forge.local.store import LocalStore
from bot.adapters.forge.port import (
    ChangeOutcome,
    CommitState,
    CommitStatus,
    ForgeNotFound,
    ForgeValidationError,
    IssueSpec,
    MergeMethod,
    MergeRefusal,
    PullRequestSpec,
)
from bot.adapters.git.errors import GitError
from bot.storage.db import Database

REPO = "acme/gitops"


def git(path: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def forge(tmp_path: Path, database: Database) -> Iterator[tuple[LocalForge, list[Any]]]:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "values.yaml").write_text("image:\n  tag: 1.0.0\n")
    repos = LocalRepos(tmp_path / "repos")
    repos.create(REPO, seed)
    sent: list[Any] = []
    yield LocalForge(repos, LocalStore(database), web_base="http://bot.test", sink=sent.extend), sent


def branch(forge: LocalForge, name: str, files: dict[str, str], *, base: str = "main") -> str:
    """Push a branch with ``files`` changed on top of ``base``, as the bot's git layer does."""
    bare = forge.repos.path(REPO)
    work = bare.parent / f"work-{name.replace('/', '-')}"
    if not work.exists():
        git(bare.parent, "clone", "--quiet", str(bare), str(work))
    git(work, "fetch", "--quiet", "origin")
    git(work, "checkout", "--quiet", "-B", name, f"origin/{base}")
    for path, text in files.items():
        (work / path).write_text(text)
    git(work, "add", "--all")
    git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", f"change {name}")
    git(work, "push", "--quiet", "--force", "origin", f"{name}:{name}")
    return git(work, "rev-parse", "HEAD").strip()


def spec(head: str, title: str = "deploy 1.1.0", body: str = "why") -> PullRequestSpec:
    return PullRequestSpec(head=head, base="main", title=title, body=body, labels=("gitops-bot",))


def test_a_pull_request_by_head_branch_opened_updated_and_reported(
    forge: tuple[LocalForge, list[Any]],
) -> None:
    local, sent = forge
    head = branch(local, "gitops-bot/chat/1.1.0", {"values.yaml": "image:\n  tag: 1.1.0\n"})
    opened = local.open_or_update_pull_request(REPO, spec("gitops-bot/chat/1.1.0"))
    assert opened.outcome == ChangeOutcome.CREATED
    pull = opened.pull_request
    assert (pull.number, pull.head_sha, pull.base_ref, pull.mergeable, pull.is_fork) == (
        1,
        head,
        "main",
        True,
        False,
    )
    assert pull.html_url == "http://bot.test/pulls/acme/gitops/1" and pull.labels == ("gitops-bot",)
    assert local.repos.sha(REPO, "refs/pull/1/head") == head
    again = local.open_or_update_pull_request(REPO, spec("gitops-bot/chat/1.1.0"))
    assert again.outcome == ChangeOutcome.UNCHANGED
    moved = branch(local, "gitops-bot/chat/1.1.0", {"values.yaml": "image:\n  tag: 1.1.0  # digest\n"})
    updated = local.open_or_update_pull_request(REPO, spec("gitops-bot/chat/1.1.0", body="new"))
    assert updated.outcome == ChangeOutcome.UPDATED and updated.pull_request.head_sha == moved
    assert [(e.source, e.event, e.action, e.domain.number) for e in sent] == [
        ("local", "pull_request", "opened", 1),
        ("local", "pull_request", "synchronize", 1),
    ]
    assert [f.filename for f in local.list_changed_files(REPO, 1)] == ["values.yaml"]
    assert [p.number for p in local.list_open_pull_requests(REPO, head_prefix="gitops-bot/")] == [1]
    assert local.list_open_pull_requests(REPO, head_prefix="other/") == ()
    with pytest.raises(ForgeValidationError):
        local.open_or_update_pull_request(REPO, spec("no-such-branch"))


@pytest.mark.parametrize("method", [MergeMethod.MERGE, MergeMethod.SQUASH, MergeMethod.REBASE])
def test_a_merge_is_a_real_commit_on_the_default_branch(
    forge: tuple[LocalForge, list[Any]], method: MergeMethod
) -> None:
    local, sent = forge
    head = branch(local, "feature", {"values.yaml": "image:\n  tag: 2.0.0\n"})
    local.open_or_update_pull_request(REPO, spec("feature"))
    assert local.merge_pull_request(REPO, 1, expected_head_sha="0" * 40).refusal == MergeRefusal.HEAD_MOVED
    merged = local.merge_pull_request(REPO, 1, expected_head_sha=head, method=method, by="alice")
    assert merged.merged and merged.sha == local.repos.sha(REPO, "main")
    assert local.read_file(REPO, "values.yaml", "main") == b"image:\n  tag: 2.0.0\n"
    parents = git(local.repos.path(REPO), "log", "-1", "--format=%P", "main").split()
    assert len(parents) == (2 if method == MergeMethod.MERGE else 1)
    pull = local.get_pull_request(REPO, 1)
    assert (pull.state, pull.merged, pull.merge_commit_sha) == ("closed", True, merged.sha)
    closed = sent[-1].domain
    assert (sent[-1].action, closed.merged, closed.merge_commit_sha) == ("closed", True, merged.sha)
    assert local.merge_pull_request(REPO, 1, expected_head_sha=head).refusal == MergeRefusal.ALREADY_MERGED


def test_a_conflict_is_refused_and_nothing_moves(forge: tuple[LocalForge, list[Any]]) -> None:
    local, _ = forge
    branch(local, "one", {"values.yaml": "image:\n  tag: 3.0.0\n"})
    two = branch(local, "two", {"values.yaml": "image:\n  tag: 4.0.0\n"})
    local.open_or_update_pull_request(REPO, spec("one"))
    local.open_or_update_pull_request(REPO, spec("two"))
    assert local.merge_pull_request(
        REPO, 1, expected_head_sha=local.get_pull_request(REPO, 1).head_sha
    ).merged
    before = local.repos.sha(REPO, "main")
    assert local.get_pull_request(REPO, 2).mergeable is False
    refused = local.merge_pull_request(REPO, 2, expected_head_sha=two)
    assert refused.refusal == MergeRefusal.NOT_MERGEABLE and local.repos.sha(REPO, "main") == before
    local.close_pull_request(REPO, 2, comment="superseded", by="bob")
    assert local.merge_pull_request(REPO, 2, expected_head_sha=two).refusal == MergeRefusal.CLOSED
    assert [c.body for c in local.store.comments(REPO, 2)] == ["superseded"]


def test_comments_statuses_reviews_and_issues(forge: tuple[LocalForge, list[Any]]) -> None:
    local, sent = forge
    head = branch(local, "feature", {"values.yaml": "image:\n  tag: 2.0.0\n"})
    local.open_or_update_pull_request(REPO, spec("feature"))
    sent.clear()
    by_bot = local.create_comment(REPO, 1, "Plan: 1 to add")
    assert by_bot.author == "gitops-bot" and sent == []  # the bot's own comments are not reported
    by_person = local.create_comment(REPO, 1, "/gitops plan", author="alice")
    (comment,) = sent
    assert (comment.event, comment.domain.body, comment.domain.author, comment.domain.comment_id) == (
        "issue_comment", "/gitops plan", "alice", by_person.id,
    )  # fmt: skip
    local.add_reaction(REPO, by_person.id)
    assert local.edit_comment(REPO, by_bot.id, "Plan: 2 to add").body == "Plan: 2 to add"
    local.set_commit_status(REPO, head, CommitStatus(CommitState.PENDING, "gitops-bot/plan", "planning"))
    local.set_commit_status(
        REPO, head, CommitStatus(CommitState.SUCCESS, "gitops-bot/plan", "1 to add", "http://x")
    )
    (status,) = local.store.statuses(REPO, head)
    assert (status.state, status.description, status.target_url) == ("success", "1 to add", "http://x")
    assert not local.review_summary(REPO, 1).approved
    local.approve(REPO, 1, by="gitops-bot")  # the author's own approval never counts
    local.approve(REPO, 1, by="alice")
    assert local.review_summary(REPO, 1).approved_by == ("alice",)
    assert local.permission_level(REPO, "anyone") == "admin" and local.permission_level("x/y", "a") == "none"

    drift = local.open_or_update_issue(REPO, IssueSpec("Drift in serving-prod", "1 to add"))
    assert drift.outcome == ChangeOutcome.CREATED and drift.issue.number == 1  # numbered apart from #1
    assert (
        local.open_or_update_issue(REPO, IssueSpec("Drift in serving-prod", "1 to add")).outcome
        == ChangeOutcome.UNCHANGED
    )
    assert local.find_open_issue(REPO, "Drift in serving-prod") is not None
    local.close_issue(REPO, 1, body="resolved")
    assert local.find_open_issue(REPO, "Drift in serving-prod") is None
    assert local.get_pull_request(REPO, 1).is_open  # the pull request #1 is untouched
    with pytest.raises(ForgeNotFound):
        local.get_pull_request(REPO, 9)
    with pytest.raises(ForgeValidationError):
        local.repos.path("../etc")


def test_replicas_creating_one_repository_at_once_make_it_once_and_whole(tmp_path: Path) -> None:
    """Two `serve` replicas sharing a data directory both seed the example on their first start."""
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "values.yaml").write_text("image:\n  tag: 1.0.0\n")
    root = tmp_path / "repos"
    ready = threading.Barrier(4)
    made: list[str] = []

    def create() -> None:
        repos = LocalRepos(root)  # one per replica: nothing shared but the directory
        ready.wait()
        made.append(repos.create(REPO, seed))

    creators = [threading.Thread(target=create) for _ in range(4)]
    for creator in creators:
        creator.start()
    for creator in creators:
        creator.join(timeout=60)
    repos = LocalRepos(root)
    assert len(made) == 4 and set(made) == {repos.sha(REPO, "main")}, made
    assert repos.repos() == [REPO]
    assert git(repos.path(REPO), "rev-list", "--count", "main").strip() == "1"
    # Nothing half-built is left beside it: only the repository and its lock file.
    assert sorted(p.name for p in repos.path(REPO).parent.iterdir()) == [".gitops.git.lock", "gitops.git"]


def test_a_directory_in_a_repositorys_place_is_refused_with_what_to_do(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "values.yaml").write_text("image:\n  tag: 1.0.0\n")
    repos = LocalRepos(tmp_path / "repos")
    leftover = repos.path(REPO)
    leftover.mkdir(parents=True)
    (leftover / "config").write_text("half made")
    with pytest.raises(GitError, match="exists but is not a repository; remove it"):
        repos.create(REPO, seed)
    assert (leftover / "config").read_text() == "half made"  # nothing of it touched
