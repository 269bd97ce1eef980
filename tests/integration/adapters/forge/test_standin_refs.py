"""The stand-ins read plain refs from git's files instead of asking git: the answers must be git's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import github_standin_git as bare_git
from tests.support.github_standin_git import git


def _answers_of_git(bare: Path, ref: str) -> str | None:
    for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
        found = git(bare, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False)
        if found.returncode == 0:
            return found.stdout.decode().strip()
    return None


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """Branches loose and packed, a lightweight and an annotated tag, a branch named like a folder."""
    work, bare = tmp_path / "work", tmp_path / "repo.git"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    (work / "a").write_text("a\n")
    git(work, "add", "a")
    git(work, "commit", "--quiet", "-m", "one")
    git(work, "branch", "packed-branch")
    git(work, "tag", "light")
    git(work, "tag", "-a", "annotated", "-m", "annotated")
    (work / "a").write_text("b\n")
    git(work, "commit", "--quiet", "-am", "two")
    git(work, "branch", "feature/x")
    git(tmp_path, "clone", "--quiet", "--bare", str(work), str(bare))
    git(bare, "pack-refs", "--all")
    git(bare, "branch", "loose-branch", "main~1")  # written after packing: a loose ref file
    git(bare, "update-ref", "refs/heads/main", "main~1")  # loose now, older than the packed main
    return bare


REFS = [
    "main",
    "packed-branch",
    "loose-branch",
    "feature/x",
    "feature",
    "light",
    "annotated",
    "no-such-branch",
    "main~1",
    "../HEAD",
    "refs/heads/main",
    "feature//x",
    "feature/x.lock",
]


@pytest.mark.parametrize("ref", REFS)
def test_resolve_answers_as_git_does(bare: Path, ref: str) -> None:
    assert bare_git.resolve(bare, ref) == _answers_of_git(bare, ref)


@pytest.mark.parametrize("ref", REFS)
def test_branch_answers_as_git_does(bare: Path, ref: str) -> None:
    found = git(bare, "rev-parse", "--verify", "--quiet", f"refs/heads/{ref}^{{commit}}", check=False)
    expected = found.stdout.decode().strip() if found.returncode == 0 else None
    assert bare_git.branch(bare, ref) == expected
