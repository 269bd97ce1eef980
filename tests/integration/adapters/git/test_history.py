"""Reading history from a mirror with real git: the commits that changed some files on the branch's
own line (a merged branch shows as its merge commit), and many files at many commits in one read."""

from __future__ import annotations

import pytest

from bot.adapters.git import GitWorkspaces
from bot.adapters.git.history import file_log, read_files
from tests.integration.adapters.git.conftest import Upstream

VALUES = "apps/chat/values.yaml"


def test_the_log_of_a_file_walks_the_branch_and_shows_merges(
    workspaces: GitWorkspaces, upstream: Upstream
) -> None:
    seed = upstream.rev("main")
    upstream.commit({VALUES: "image:\n  tag: 1.1.0\n"}, "chat: deploy 1.1.0", branch="bump", start="main")
    upstream.commit({"README.md": "other work\n"}, "docs only")  # on main, does not touch the file
    merge = upstream.merge("bump")
    direct = upstream.commit({VALUES: "image:\n  tag: 1.2.0  # by hand\n"}, "pin 1.2.0\n\nbecause")
    mirror = workspaces.mirror(upstream.url)

    logged = file_log(mirror, "HEAD", [VALUES], limit=10)
    assert [item.sha for item in logged] == [direct, merge, seed]  # not the branch's own commit
    assert logged[0].subject == "pin 1.2.0" and logged[0].body == "because"
    assert logged[1].subject == "Merge branch bump" and len(logged[1].parents) == 2
    assert logged[2].parents == () and logged[0].author == "Dev"
    assert logged[0].committed_at.tzinfo is not None
    assert [item.sha for item in file_log(mirror, "HEAD", [VALUES], limit=2)] == [direct, merge]
    assert file_log(mirror, "HEAD", [], limit=5) == []
    with pytest.raises(ValueError):
        file_log(mirror, "HEAD", ["../outside"], limit=5)
    with pytest.raises(ValueError):
        file_log(mirror, "--all", [VALUES], limit=5)


def test_many_files_at_many_commits_in_one_read(workspaces: GitWorkspaces, upstream: Upstream) -> None:
    first = upstream.rev("main")
    second = upstream.commit({VALUES: "image:\n  tag: 1.1.0\n", "bin.dat": "\x00\x01 two\nlines\n"}, "two")
    mirror = workspaces.mirror(upstream.url)
    wanted = [(first, VALUES), (second, VALUES), (first, "bin.dat"), (second, "bin.dat"), (second, "apps")]
    found = read_files(mirror, [*wanted, (second, "./" + VALUES)])
    assert found == {
        (first, VALUES): b"image:\n  tag: 1.0.0\n",
        (second, VALUES): b"image:\n  tag: 1.1.0\n",
        (first, "bin.dat"): None,  # not there yet
        (second, "bin.dat"): b"\x00\x01 two\nlines\n",
        (second, "apps"): None,  # a directory is no file
    }
    assert read_files(mirror, []) == {}
