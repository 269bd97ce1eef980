"""The local forge's git side: bare repositories ``<dir>/owner/name.git`` and what a forge does with
them (read a file at a ref, compare two refs, merge a branch), with real git.

Merges are made in a temporary clone and pushed back, so the bare repository only ever moves by
a push, as a hosted forge's does; the bot's own mirrors fetch from it like from GitHub.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.adapters.forge.port import ChangedFile, ForgeNotFound, ForgeValidationError, MergeMethod
from bot.adapters.git.errors import GitError
from bot.adapters.git.locking import file_lock
from bot.adapters.git.runner import GitRunner

# owner/name as GitHub spells them: no path tricks can leave the repositories' directory.
_PART = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}
IDENTITY = ("user.name=gitops-bot local forge", "user.email=gitops-bot@localhost")


@dataclass(frozen=True)
class Merged:
    sha: str | None  # the new head of the base branch; None when it could not merge
    conflict: str = ""


class LocalRepos:
    """Every bare repository under ``root``."""

    def __init__(self, root: Path, runner: GitRunner | None = None) -> None:
        self.root = root.resolve()
        self.git = runner or GitRunner(timeout=120.0)

    def path(self, repo: str) -> Path:
        owner, _, name = repo.partition("/")
        if not (_PART.fullmatch(owner) and _PART.fullmatch(name)) or ".." in (owner, name):
            raise ForgeValidationError(f"{repo!r} is not a repository name (owner/name)")
        return self.root / owner / f"{name}.git"

    def exists(self, repo: str) -> bool:
        return (self.path(repo) / "HEAD").is_file()

    def _bare(self, repo: str) -> Path:
        path = self.path(repo)
        if not (path / "HEAD").is_file():
            raise ForgeNotFound(f"no repository {repo} under {self.root}", status=404)
        return path

    def repos(self) -> list[str]:
        """``owner/name`` of every repository, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            f"{head.parent.parent.name}/{head.parent.name[:-4]}" for head in self.root.glob("*/*.git/HEAD")
        )

    def create(self, repo: str, files: Path, *, branch: str = "main", message: str = "Initial commit") -> str:
        """A bare repository whose first commit holds the tree under ``files``; its sha.

        Safe when several processes create the same repository at once (replicas seeding the
        example on their first start share the data directory): the repository is built beside
        its place and renamed into it under a lock, so it appears whole or not at all, and a
        creator that finds it there already leaves it as it is."""
        path = self.path(repo)
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(path.parent / f".{path.name}.lock", timeout=120.0):
            if not self.exists(repo):
                if path.exists():  # left by hand or by a crash of a version that built in place
                    raise GitError((), None, "", detail=f"{path} exists but is not a repository; remove it")
                with tempfile.TemporaryDirectory(prefix=f".{path.name}-", dir=path.parent) as scratch:
                    built = self._build(Path(scratch), files, branch, message)
                    os.rename(built, path)
        return self.sha(repo, branch) or ""

    def _build(self, scratch: Path, files: Path, branch: str, message: str) -> Path:
        """A bare repository in ``scratch`` whose one commit holds the tree under ``files``."""
        bare = scratch / "repo.git"
        work = scratch / "work"
        self.git.run(["init", "--quiet", "--bare", f"--initial-branch={branch}", str(bare)], cwd=scratch)
        shutil.copytree(files, work, ignore=shutil.ignore_patterns(".git", "__pycache__"))
        self.git.run(["init", "--quiet", f"--initial-branch={branch}"], cwd=work)
        self.git.run(["add", "--all"], cwd=work)
        self.git.run(["commit", "--quiet", "-m", message], cwd=work, config=IDENTITY)
        self.git.run(["push", "--quiet", str(bare), f"HEAD:refs/heads/{branch}"], cwd=work)
        return bare

    def default_branch(self, repo: str) -> str:
        head = self.git.run(["symbolic-ref", "--short", "HEAD"], cwd=self._bare(repo)).stdout.strip()
        return head or "main"

    def sha(self, repo: str, ref: str) -> str | None:
        """The commit ``ref`` (a branch, tag or sha) names, or None."""
        found = self.git.run(
            ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=self._bare(repo), check=False
        )
        return found.stdout.strip() or None if found.returncode == 0 else None

    def set_pull_ref(self, repo: str, number: int, sha: str) -> None:
        """``refs/pull/N/head``, as GitHub keeps it: the bot fetches a pull request's head by it."""
        self.git.run(["update-ref", f"refs/pull/{number}/head", sha], cwd=self._bare(repo))

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        bare = self._bare(repo)
        kind = self.git.run(["cat-file", "-t", f"{ref}:{path}"], cwd=bare, check=False)
        if kind.returncode != 0 or kind.stdout.strip() != "blob":
            return None
        return self.git.run(["cat-file", "blob", f"{ref}:{path}"], cwd=bare).stdout_bytes

    def changed_files(self, repo: str, base: str, head: str) -> tuple[ChangedFile, ...]:
        """What ``head`` changes since it left ``base`` (``base...head``, as a pull request shows)."""
        out = self.git.run(
            ["diff", "--name-status", "-M", "-z", f"{base}...{head}"], cwd=self._bare(repo)
        ).stdout
        parts = out.split("\0")
        changed: list[ChangedFile] = []
        index = 0
        while index < len(parts) and parts[index]:
            code = parts[index]
            if code[0] in "RC":
                changed.append(
                    ChangedFile(parts[index + 2], _STATUS[code[0]], previous_filename=parts[index + 1])
                )
                index += 3
            else:
                changed.append(ChangedFile(parts[index + 1], _STATUS.get(code[0], "changed")))
                index += 2
        return tuple(changed)

    def diff(self, repo: str, base: str, head: str) -> str:
        return self.git.run(["diff", "-M", f"{base}...{head}"], cwd=self._bare(repo)).stdout

    def mergeable(self, repo: str, base: str, head: str) -> bool:
        """Whether ``head`` merges into ``base`` without a conflict (``git merge-tree``, no work tree)."""
        found = self.git.run(["merge-tree", "--write-tree", base, head], cwd=self._bare(repo), check=False)
        return found.returncode == 0

    def merge(
        self, repo: str, base: str, head: str, *, method: MergeMethod, title: str, message: str
    ) -> Merged:
        """Merge ``head`` into ``base`` in a scratch clone and push ``base``; ``Merged(None, why)``
        on a conflict (nothing is pushed then)."""
        bare = self._bare(repo)
        with tempfile.TemporaryDirectory(prefix="gitops-bot-merge-") as scratch:
            work = Path(scratch) / "work"
            self.git.run(["clone", "--quiet", "--branch", base, str(bare), str(work)], cwd=Path(scratch))
            self.git.run(["fetch", "--quiet", "origin", f"{head}:refs/remotes/origin/pr-head"], cwd=work)
            text = f"{title}\n\n{message}".strip() + "\n"
            try:
                self._merge_in(work, method, text)
            except GitError as error:
                return Merged(None, error.stderr.strip() or str(error))
            self.git.run(["push", "--quiet", "origin", f"HEAD:refs/heads/{base}"], cwd=work)
            return Merged(self.git.run(["rev-parse", "HEAD"], cwd=work).stdout.strip())

    def _merge_in(self, work: Path, method: MergeMethod, text: str) -> None:
        run = self.git.run
        if method == MergeMethod.SQUASH:
            run(["merge", "--squash", "--quiet", "origin/pr-head"], cwd=work, config=IDENTITY)
            run(
                ["commit", "--quiet", "--allow-empty", "-F", "-"],
                cwd=work,
                config=IDENTITY,
                stdin=text.encode(),
            )
        elif method == MergeMethod.REBASE:
            run(["rebase", "--quiet", "HEAD", "origin/pr-head"], cwd=work, config=IDENTITY)
            run(["checkout", "--quiet", "-B", "merged"], cwd=work)
        else:
            # git merge reads no message from stdin: the title and the body as two paragraphs.
            title, _, body = text.partition("\n\n")
            message = ["-m", title.strip()] + (["-m", body.strip()] if body.strip() else [])
            run(["merge", "--no-ff", "--quiet", *message, "origin/pr-head"], cwd=work, config=IDENTITY)
