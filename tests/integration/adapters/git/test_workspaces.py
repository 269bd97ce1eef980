"""Mirrors, work trees, commits, pushes and reverts against real bare repositories."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bot.adapters.git import (
    GitError,
    GitIdentity,
    GitWorkspaces,
    PushRejected,
    RevertOutcome,
    UnknownRevision,
)
from tests.integration.adapters.git.conftest import BOT, Upstream, run_git

pytestmark = pytest.mark.integration

VALUES = "apps/chat/values.yaml"


def test_first_use_clones_then_later_uses_only_fetch(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    mirror = workspaces.mirror(upstream.url)
    assert mirror.path == workspaces.data_dir / "mirrors" / "local" / "acme" / "gitops.git"
    assert mirror.resolve("main") == upstream.rev("main")
    marker = mirror.path / "gitops-bot-test-marker"
    marker.write_text("still the same mirror")
    objects_inode = (mirror.path / "objects").stat().st_ino

    new_sha = upstream.commit({VALUES: "image:\n  tag: 1.1.0\n"}, "bump")
    again = workspaces.mirror(upstream.url)

    assert again.path == mirror.path
    assert marker.read_text() == "still the same mirror"  # a re-clone would have replaced the directory
    assert (again.path / "objects").stat().st_ino == objects_inode
    assert again.resolve("main") == new_sha
    assert again.show("main", VALUES) == "image:\n  tag: 1.1.0\n"


def test_mirror_config_is_a_bare_branch_and_tag_mirror(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    mirror = workspaces.mirror(upstream.url)
    config = run_git("config", "--list", "--local", cwd=mirror.path)
    assert f"remote.origin.url={upstream.url}" in config
    assert "remote.origin.fetch=+refs/heads/*:refs/heads/*" in config
    assert "remote.origin.fetch=+refs/tags/*:refs/tags/*" in config
    assert "core.bare=true" in config
    assert "remote.origin.mirror" not in config  # a push to origin must never mirror-delete branches
    assert "gc.autodetach=false" in config


def test_fetch_prunes_deleted_branches_and_follows_new_tags(
    workspaces: GitWorkspaces, upstream: Upstream
) -> None:
    upstream.commit({"a.txt": "a\n"}, "topic", branch="topic")
    mirror = workspaces.mirror(upstream.url)
    assert mirror.branch_sha("topic") == upstream.rev("topic")
    upstream.git("push", "--quiet", "origin", "--delete", "topic")
    upstream.git("tag", "v1", "origin/main")
    upstream.git("push", "--quiet", "origin", "v1")

    mirror.fetch()

    assert mirror.branch_sha("topic") is None
    assert mirror.resolve("v1") == upstream.rev("main")


def test_default_branch_follows_the_remote(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    assert workspaces.mirror(upstream.url).default_branch() == "main"
    upstream.commit({"t.txt": "t\n"}, "trunk", branch="trunk")
    run_git("symbolic-ref", "HEAD", "refs/heads/trunk", cwd=upstream.bare)

    mirror = workspaces.mirror(upstream.url)

    assert mirror.default_branch() == "trunk"
    with workspaces.worktree(upstream.url) as tree:
        assert tree.base_sha == upstream.rev("trunk")


def test_each_job_gets_its_own_work_tree_at_its_sha(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    first = upstream.rev("main")
    second = upstream.commit({VALUES: "image:\n  tag: 2.0.0\n"}, "bump")

    with workspaces.worktree(upstream.url, first) as old, workspaces.worktree(upstream.url, "main") as new:
        assert old.path != new.path
        assert old.head() == old.base_sha == first
        assert new.head() == second
        assert old.read_text(VALUES) == "image:\n  tag: 1.0.0\n"
        assert new.read_text(VALUES) == "image:\n  tag: 2.0.0\n"
        old.write_text(VALUES, "changed only here\n")
        assert new.read_text(VALUES) == "image:\n  tag: 2.0.0\n"
        paths = (old.path, new.path)

    assert not any(path.exists() for path in paths)
    listed = run_git("worktree", "list", "--porcelain", cwd=workspaces.mirror_path(upstream.url))
    assert listed.count("worktree ") == 1  # only the bare mirror itself


def test_a_mirror_handle_opens_work_trees_without_fetching(
    workspaces: GitWorkspaces, upstream: Upstream
) -> None:
    mirror = workspaces.mirror(upstream.url)
    seed = upstream.rev("main")
    upstream.commit({"later.txt": "later\n"}, "later")
    with mirror.worktree() as tree:
        assert tree.base_sha == seed  # the mirror has not fetched the later commit
        assert not tree.exists("later.txt")
        assert tree.resolve("HEAD") == seed


def test_work_tree_is_removed_when_the_job_fails(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    with pytest.raises(RuntimeError, match="job failed"), workspaces.worktree(upstream.url) as tree:
        tree.write_text("new.txt", "half-done\n")
        path = tree.path
        raise RuntimeError("job failed")
    assert not path.exists()
    listed = run_git("worktree", "list", "--porcelain", cwd=workspaces.mirror_path(upstream.url))
    assert str(path) not in listed


def test_stale_work_trees_of_crashed_jobs_are_removed(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    crashed = workspaces.worktree(upstream.url)
    tree = crashed.__enter__()  # a process that died inside its with block never exits it
    with workspaces.worktree(upstream.url) as live:
        assert workspaces.remove_stale_worktrees(older_than=3600) == 0
        os.utime(tree.path, (time.time() - 7200, time.time() - 7200))
        assert workspaces.remove_stale_worktrees(older_than=3600) == 1
        assert not tree.path.exists()
        assert live.path.exists()
        listed = run_git("worktree", "list", "--porcelain", cwd=tree.mirror.path)
        assert str(tree.path) not in listed and str(live.path) in listed
    crashed.__exit__(None, None, None)  # tolerates the directory being gone


def test_unknown_ref_is_a_clear_error(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    with (
        pytest.raises(UnknownRevision, match="no-such-branch"),
        workspaces.worktree(upstream.url, "no-such-branch"),
    ):
        pass


def test_pull_request_head_outside_branches_is_fetched_on_demand(
    workspaces: GitWorkspaces, upstream: Upstream
) -> None:
    fork_sha = upstream.commit({"fork.txt": "from a fork\n"}, "fork change", branch="fork-work")
    run_git("update-ref", "refs/pull/7/head", fork_sha, cwd=upstream.bare)
    upstream.git("push", "--quiet", "origin", "--delete", "fork-work")
    workspaces.mirror(upstream.url)

    with workspaces.worktree(upstream.url, "refs/pull/7/head") as tree:
        assert tree.head() == fork_sha
        assert tree.read_text("fork.txt") == "from a fork\n"


def test_commit_and_push_a_branch(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    with workspaces.worktree(upstream.url) as tree:
        tree.write_text(VALUES, "image:\n  tag: 1.4.0\n")
        tree.write_text("apps/new/values.yaml", "image:\n  tag: 0.1.0\n")
        sha = tree.commit("chat-llm 1.4.0\n\n# Markdown heading kept\n")
        assert sha is not None
        assert tree.push("gitops-bot/chat-llm-1.4.0") == sha

    assert upstream.rev("gitops-bot/chat-llm-1.4.0") == sha
    assert upstream.show(sha, VALUES) == "image:\n  tag: 1.4.0\n"
    assert upstream.show(sha, "apps/new/values.yaml") == "image:\n  tag: 0.1.0\n"
    people = run_git("log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", sha, cwd=upstream.bare)
    assert people.startswith("gitops-bot <gitops-bot@example.com>|gitops-bot <gitops-bot@example.com>|")
    assert "# Markdown heading kept" in people
    assert upstream.rev("main") != sha  # main untouched


def test_commit_credits_an_author_and_can_limit_paths(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    alice = GitIdentity("Alice", "alice@example.com")
    with workspaces.worktree(upstream.url) as tree:
        tree.write_text(VALUES, "image:\n  tag: 9.9.9\n")
        tree.write_text("scratch.txt", "not committed\n")
        sha = tree.commit("deploy 9.9.9", author=alice, paths=[VALUES])
        assert sha is not None
        people = run_git("log", "-1", "--format=%an <%ae>|%cn", sha, cwd=tree.path)
        assert people.strip() == "Alice <alice@example.com>|gitops-bot"
        assert tree.changed_files("HEAD") == ("scratch.txt",)


def test_commit_without_changes_is_a_no_op(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    with workspaces.worktree(upstream.url) as tree:
        tree.write_text(VALUES, tree.read_text(VALUES))  # same content
        assert tree.commit("nothing") is None
        assert tree.head() == tree.base_sha


def test_push_rejects_non_fast_forward_and_stale_lease(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    branch = "gitops-bot/chat"
    with workspaces.worktree(upstream.url) as tree:
        tree.write_text(VALUES, "image:\n  tag: 1.1.0\n")
        first = tree.commit("1.1.0")
        tree.push(branch)

    # The bot rebuilds its own branch from main: not a fast-forward, so a plain push is refused,
    # and a push with lease (the mirror knows the bot's previous commit) replaces it.
    with workspaces.worktree(upstream.url) as tree:
        tree.write_text(VALUES, "image:\n  tag: 1.2.0\n")
        second = tree.commit("1.2.0")
        with pytest.raises(PushRejected, match="gitops-bot/chat"):
            tree.push(branch)
        assert tree.push(branch, force_with_lease=True) == second
    assert upstream.rev(branch) == second != first

    # A human pushes to the branch after the bot's fetch: the lease no longer holds.
    with workspaces.worktree(upstream.url) as tree:
        human = upstream.commit({"human.txt": "mine\n"}, "human fix", branch=branch)
        tree.write_text(VALUES, "image:\n  tag: 1.3.0\n")
        tree.commit("1.3.0")
        with pytest.raises(PushRejected, match="stale info"):
            tree.push(branch, force_with_lease=True)
    assert upstream.rev(branch) == human


def test_lease_on_a_new_branch_requires_that_it_does_not_exist(
    workspaces: GitWorkspaces, upstream: Upstream
) -> None:
    with workspaces.worktree(upstream.url) as tree:
        upstream.commit({"x.txt": "x\n"}, "someone else", branch="gitops-bot/new")
        tree.write_text(VALUES, "image:\n  tag: 3.0.0\n")
        tree.commit("3.0.0")
        with pytest.raises(PushRejected):
            tree.push("gitops-bot/new", force_with_lease=True)


def test_invalid_branch_name_is_refused(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    with workspaces.worktree(upstream.url) as tree, pytest.raises(ValueError, match="not a valid branch"):
        tree.push("bad..name")


def test_revert_of_a_merge_commit_uses_the_first_parent(
    workspaces: GitWorkspaces, upstream: Upstream
) -> None:
    upstream.commit({VALUES: "image:\n  tag: 1.5.0\n"}, "bump to 1.5.0", branch="update")
    merge = upstream.merge("update")

    with workspaces.worktree(upstream.url) as tree:
        result = tree.revert(merge)
        assert result.ok
        assert result.outcome is RevertOutcome.REVERTED
        assert result.mainline == 1
        assert result.reverted == merge
        assert result.sha is not None and result.sha == tree.head()
        assert tree.read_text(VALUES) == "image:\n  tag: 1.0.0\n"
        assert tree.is_clean()
        body = run_git("log", "-1", "--format=%B", result.sha, cwd=tree.path)
        assert f"This reverts commit {merge}" in body
        tree.push("gitops-bot/rollback")
    assert upstream.show("gitops-bot/rollback", VALUES) == "image:\n  tag: 1.0.0\n"


def test_revert_of_a_squash_commit_with_a_custom_message(
    workspaces: GitWorkspaces, upstream: Upstream
) -> None:
    squash = upstream.commit({VALUES: "image:\n  tag: 1.6.0\n"}, "chat-llm 1.6.0 (#12)")
    with workspaces.worktree(upstream.url) as tree:
        result = tree.revert(squash, message="Roll back chat-llm 1.6.0\n\nCanary failed.")
        assert result.ok and result.mainline is None
        assert tree.read_text(VALUES) == "image:\n  tag: 1.0.0\n"
        assert run_git("log", "-1", "--format=%s|%cn", cwd=tree.path).strip() == (
            "Roll back chat-llm 1.6.0|gitops-bot"
        )


def test_revert_conflict_is_a_result_and_leaves_the_tree_clean(
    workspaces: GitWorkspaces, upstream: Upstream
) -> None:
    bad = upstream.commit({VALUES: "image:\n  tag: 1.7.0\n"}, "1.7.0")
    upstream.commit({VALUES: "image:\n  tag: 1.8.0\n"}, "1.8.0")
    with workspaces.worktree(upstream.url) as tree:
        before = tree.head()
        result = tree.revert(bad)
        assert result.outcome is RevertOutcome.CONFLICT
        assert not result.ok
        assert result.conflicts == (VALUES,)
        assert result.sha is None
        assert tree.is_clean()
        assert tree.head() == before
        assert tree.read_text(VALUES) == "image:\n  tag: 1.8.0\n"


def test_revert_of_an_already_undone_change(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    change = upstream.commit({VALUES: "image:\n  tag: 2.1.0\n"}, "2.1.0")
    upstream.commit({VALUES: "image:\n  tag: 1.0.0\n"}, "back to 1.0.0 by hand")
    with workspaces.worktree(upstream.url) as tree:
        result = tree.revert(change)
        assert result.outcome is RevertOutcome.NOTHING_TO_REVERT
        assert tree.head() == tree.base_sha
        assert tree.is_clean()
        # The tree stays usable for the job's next step.
        tree.write_text("after.txt", "ok\n")
        assert tree.commit("after") is not None


def test_diff_and_changed_files(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    base = upstream.rev("main")
    head = upstream.commit(
        {VALUES: "image:\n  tag: 1.1.0\n", "README.md": None, "apps/old.txt": "old\n"}, "bump, drop readme"
    )
    with workspaces.worktree(upstream.url) as tree:
        tree.write_text(VALUES, "image:\n  tag: 1.2.0\n")
        tree.write_text("apps/new.yaml", "new: true\n")
        tree.delete("apps/old.txt")

        text = tree.diff()
        assert "--- a/apps/chat/values.yaml" in text
        assert "-  tag: 1.1.0\n+  tag: 1.2.0" in text
        assert "+++ b/apps/new.yaml" in text  # new files count, without staging them for real
        assert "deleted file mode" in text
        assert tree.changed_files() == (VALUES, "apps/new.yaml", "apps/old.txt")
        assert "?? apps/new.yaml" in run_git("status", "--porcelain", cwd=tree.path)

        assert tree.changed_files(base, head) == ("README.md", VALUES, "apps/old.txt")
        between = tree.diff(base, head, paths=[VALUES])
        assert "+  tag: 1.1.0" in between and "README" not in between

    mirror = workspaces.mirror(upstream.url, refresh=False)
    assert mirror.changed_files(base, head) == ("README.md", VALUES, "apps/old.txt")
    assert "-gitops" in mirror.diff(base, head)


def test_show_reads_files_at_a_ref_without_a_work_tree(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    seed = upstream.rev("main")
    upstream.commit({VALUES: "image:\n  tag: 1.9.0\n"}, "1.9.0")
    mirror = workspaces.mirror(upstream.url)
    assert mirror.show(seed, VALUES) == "image:\n  tag: 1.0.0\n"
    assert mirror.show("main", VALUES) == "image:\n  tag: 1.9.0\n"
    assert mirror.show("main", ".gitops-bot.yaml") is None
    assert mirror.show_bytes("main", "README.md") == b"gitops\n"
    with pytest.raises(ValueError, match="tree"):
        mirror.show("main", "apps")
    with pytest.raises(UnknownRevision):
        mirror.show("nope", VALUES)
    with pytest.raises(ValueError, match="relative"):
        mirror.show("main", "/etc/passwd")
    assert mirror.parents("main") == (seed,)
    assert mirror.is_ancestor(seed, "main")
    assert not mirror.is_ancestor("main", seed)
    assert mirror.merge_base(seed, "main") == seed


def test_paths_may_not_leave_the_work_tree(
    workspaces: GitWorkspaces, upstream: Upstream, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    with workspaces.worktree(upstream.url) as tree:
        (tree.path / "link").symlink_to(outside)
        for bad in ("../escape.txt", "/etc/hosts", ".git/config", "link/file.txt", ""):
            with pytest.raises(ValueError):
                tree.write_text(bad, "x")
        assert not (outside / "file.txt").exists()


def test_partial_clone_when_the_server_can_filter(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    run_git("config", "uploadpack.allowFilter", "true", cwd=upstream.bare)
    change = upstream.commit({VALUES: "image:\n  tag: 4.0.0\n"}, "4.0.0")
    mirror = workspaces.mirror(upstream.url)
    assert mirror.is_partial
    assert mirror.show(upstream.rev("main~1"), VALUES) == "image:\n  tag: 1.0.0\n"  # fetched on demand
    with workspaces.worktree(upstream.url) as tree:
        assert tree.revert(change).ok
        assert tree.read_text(VALUES) == "image:\n  tag: 1.0.0\n"


def test_full_clone_when_the_server_cannot_filter(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    mirror = workspaces.mirror(upstream.url)
    assert not mirror.is_partial
    assert "promisor" not in run_git("config", "--list", "--local", cwd=mirror.path)


def test_a_second_local_remote_with_the_same_name_is_refused(
    workspaces: GitWorkspaces, upstream: Upstream, tmp_path: Path
) -> None:
    workspaces.mirror(upstream.url)
    other = Upstream(tmp_path / "elsewhere")
    other.commit({"x": "x\n"}, "x")
    with pytest.raises(GitError, match="belongs to"):
        workspaces.mirror(other.url)


def test_bot_identity_is_validated() -> None:
    with pytest.raises(ValueError, match="email"):
        GitIdentity("bot", "bad\n@example.com")
    assert BOT.name == "gitops-bot"


def test_a_sparse_work_tree_checks_out_only_the_named_paths_and_commits_the_whole_tree(
    workspaces: GitWorkspaces, upstream: Upstream
) -> None:
    upstream.commit({"other/a.yaml": "a: 1\n", "other/b.yaml": "b: 1\n"}, "more files")
    with workspaces.worktree(upstream.url, sparse=[VALUES]) as tree:
        assert tree.exists(VALUES)
        assert not (tree.path / "other").exists()
        tree.write_text(VALUES, "image:\n  tag: 1.6.0\n")
        sha = tree.commit("chat-llm 1.6.0")
        assert sha is not None
        tree.push("gitops-bot/sparse")
    assert upstream.show(sha, VALUES) == "image:\n  tag: 1.6.0\n"
    # Files outside the sparse set are kept as they were, not deleted.
    assert upstream.show(sha, "other/a.yaml") == "a: 1\n"
    changed = run_git("diff", "--name-only", f"{sha}^", sha, cwd=upstream.bare).split()
    assert changed == [VALUES]
    # The next full work tree of the same mirror is not sparse.
    with workspaces.worktree(upstream.url) as tree:
        assert (tree.path / "other" / "b.yaml").exists()


def test_a_sparse_work_tree_reverts_a_merge_commit(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    upstream.commit({"other/a.yaml": "a: 1\n"}, "more files")
    upstream.commit({VALUES: "image:\n  tag: 1.5.0\n"}, "bump to 1.5.0", branch="update")
    merge = upstream.merge("update")
    mirror = workspaces.mirror(upstream.url)
    touched = mirror.changed_files(mirror.parents(merge)[0], merge)
    assert touched == (VALUES,)
    with workspaces.worktree(upstream.url, sparse=touched, refresh=False) as tree:
        result = tree.revert(merge)
        assert result.ok
        tree.push("gitops-bot/sparse-rollback")
    assert upstream.show("gitops-bot/sparse-rollback", VALUES) == "image:\n  tag: 1.0.0\n"
    assert upstream.show("gitops-bot/sparse-rollback", "other/a.yaml") == "a: 1\n"


@pytest.mark.parametrize("bad", ["../x", "/abs", ".git/config"])
def test_sparse_paths_may_not_leave_the_work_tree(
    workspaces: GitWorkspaces, upstream: Upstream, bad: str
) -> None:
    with pytest.raises(ValueError), workspaces.worktree(upstream.url, sparse=[bad]):
        pass
