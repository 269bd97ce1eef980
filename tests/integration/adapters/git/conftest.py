"""Real bare repositories on disk, and a second developer who pushes to them."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.adapters.git import GitIdentity, GitWorkspaces, git_environment
from tests.support.requirements import require

BOT = GitIdentity("gitops-bot", "gitops-bot@example.com")
DEVELOPER = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def run_git(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=git_environment(os.environ, {**DEVELOPER, **(env or {})}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


class Upstream:
    """A bare repository standing in for GitHub, and a developer clone that pushes to it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "remotes" / "acme" / "gitops.git"
        self.bare.mkdir(parents=True)
        run_git("init", "--quiet", "--bare", "--initial-branch=main", cwd=self.bare)
        self.dev = root / "developer"
        run_git("clone", "--quiet", self.url, str(self.dev), cwd=root)

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def git(self, *args: str) -> str:
        return run_git(*args, cwd=self.dev)

    def commit(
        self, files: Mapping[str, str | None], message: str, *, branch: str = "main", start: str = "main"
    ) -> str:
        """Commit on ``branch`` (created from ``start`` if new; None deletes a file), push, return the sha."""
        self.checkout(branch, start=start)
        for name, text in files.items():
            path = self.dev / name
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)
        self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        return self.git("rev-parse", "HEAD").strip()

    def checkout(self, branch: str, *, start: str = "main") -> None:
        if not self.branches():
            self.git("symbolic-ref", "HEAD", f"refs/heads/{branch}")  # empty repository: unborn branch
            return
        self.git("fetch", "--quiet", "origin")
        base = branch if branch in self.branches() else start
        self.git("checkout", "--quiet", "-B", branch, f"origin/{base}")

    def merge(self, branch: str, into: str = "main") -> str:
        """A GitHub-style merge commit (``--no-ff``) of ``branch`` into ``into``; returns its sha."""
        self.checkout(into)
        self.git("merge", "--quiet", "--no-ff", "-m", f"Merge branch {branch}", f"origin/{branch}")
        self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{into}")
        return self.git("rev-parse", "HEAD").strip()

    def rev(self, ref: str) -> str:
        return run_git("rev-parse", ref, cwd=self.bare).strip()

    def branches(self) -> set[str]:
        out = run_git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=self.bare)
        return set(out.split())

    def show(self, ref: str, path: str) -> str:
        return run_git("show", f"{ref}:{path}", cwd=self.bare)


@pytest.fixture
def git_binary() -> str:
    path = shutil.which("git")
    require(path is not None, "the git binary")
    assert path is not None
    return path


@pytest.fixture
def upstream(tmp_path: Path, git_binary: str) -> Upstream:
    repo = Upstream(tmp_path)
    repo.commit({"apps/chat/values.yaml": "image:\n  tag: 1.0.0\n", "README.md": "gitops\n"}, "seed")
    return repo


@pytest.fixture
def workspaces(tmp_path: Path, git_binary: str) -> GitWorkspaces:
    return GitWorkspaces(tmp_path / "data", identity=BOT, command_timeout=60, network_timeout=60)
