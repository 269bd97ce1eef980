"""One job's throw-away checkout of a mirror: files, commits, pushes, reverts and diffs (real ``git``).

Made by :meth:`bot.adapters.git.mirror.Mirror.worktree` (or ``GitWorkspaces.worktree``), which
removes it again. Everything here blocks: callers run it in worker threads.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import structlog

from bot.adapters.git.errors import GitError, PushRejected, UnknownRevision
from bot.adapters.git.identity import GitIdentity, identity_env
from bot.adapters.git.paths import check_ref, repo_relpath, split_z
from bot.adapters.git.remotes import RemoteRepo
from bot.adapters.git.repository import BareRepository
from bot.adapters.git.revert import RevertOutcome, RevertResult
from bot.adapters.git.runner import GitOutput

log = structlog.get_logger("gitops_bot.git")

# For commands run in a work tree: no automatic gc outside the mirror's lock (the mirror only
# collects garbage inside ``fetch``; see :mod:`bot.adapters.git.mirror`).
WORKTREE_CONFIG = ("gc.auto=0", "maintenance.auto=false")


class WorkTree:
    """One job's checkout (detached HEAD). Not shared: one thread uses it, then it is removed."""

    def __init__(self, *, mirror: BareRepository, path: Path, base_sha: str) -> None:
        self.mirror = mirror
        self.path = path
        self.base_sha = base_sha  # the commit the work tree was created at

    def __repr__(self) -> str:
        return f"WorkTree({self.mirror.remote.full_name} at {self.base_sha[:12]} in {str(self.path)!r})"

    @property
    def remote(self) -> RemoteRepo:
        return self.mirror.remote

    def head(self) -> str:
        return self._git(["rev-parse", "HEAD"]).stdout.strip()

    def resolve(self, ref: str) -> str:
        """The full sha of ``ref`` as this work tree sees it (``HEAD`` is the tree's own HEAD)."""
        check_ref(ref)
        out = self._git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False)
        if out.returncode != 0:
            raise UnknownRevision(out.args, out.returncode, out.stderr, detail=f"no commit {ref!r}")
        return out.stdout.strip()

    # -- files --------------------------------------------------------------------------------

    def file_path(self, path: str) -> Path:
        """The absolute path of a repository-relative ``path``; ``ValueError`` if it leaves the tree."""
        relpath = repo_relpath(path)
        root = self.path.resolve()
        candidate = (root / relpath).resolve()
        if candidate != root and not candidate.is_relative_to(root):
            raise ValueError(f"path {path!r} leaves the work tree (through a symlink)")
        return candidate

    def exists(self, path: str) -> bool:
        return self.file_path(path).is_file()

    def read_bytes(self, path: str) -> bytes:
        return self.file_path(path).read_bytes()

    def read_text(self, path: str) -> str:
        # newline="": keep CRLF files byte-exact, edits must change one value and nothing else.
        with self.file_path(path).open(encoding="utf-8", newline="") as handle:
            return handle.read()

    def write_bytes(self, path: str, data: bytes) -> None:
        target = self.file_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def write_text(self, path: str, text: str) -> None:
        target = self.file_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    def delete(self, path: str) -> None:
        self.file_path(path).unlink()

    def is_clean(self) -> bool:
        """No staged, unstaged or untracked changes."""
        out = self._git(["status", "--porcelain", "-z", "--untracked-files=all"])
        return not out.stdout_bytes

    # -- history ------------------------------------------------------------------------------

    def commit(
        self, message: str, *, author: GitIdentity | None = None, paths: Sequence[str] = ()
    ) -> str | None:
        """Stage ``paths`` (default: every change, including new and deleted files) and commit them.

        Returns the new sha, or None (and commits nothing) when nothing changed. The committer is
        the bot's identity; ``author`` credits someone else (for example the Slack user)."""
        if not message.strip():
            raise ValueError("commit message is empty")
        targets = [repo_relpath(p) for p in paths] if paths else ["."]
        self._git(["add", "--all", "--", *targets])
        staged = self._git(["diff", "--cached", "--quiet"], check=False)
        if staged.returncode == 0:
            return None
        if staged.returncode != 1:
            raise GitError(staged.args, staged.returncode, staged.stderr)
        self._git(
            ["commit", "--quiet", "--no-verify", "--cleanup=whitespace", "-F", "-"],
            env=self._identity_env(author),
            stdin=message.encode("utf-8"),
        )
        return self.head()

    def push(self, branch: str, *, force_with_lease: bool = False, expected_sha: str | None = None) -> str:
        """Push HEAD to ``refs/heads/<branch>`` on the remote; returns the pushed sha.

        Without ``force_with_lease`` only a fast-forward (or a new branch) is accepted. With it, the
        branch is replaced only if the remote still has ``expected_sha`` — by default what the mirror
        saw at its last fetch, and "must not exist" when the mirror had no such branch — so the bot
        rewrites its own branches but never a commit someone pushed since. :class:`PushRejected`
        when the remote refuses. The mirror learns the new branch on its next fetch."""
        check_ref(branch)
        check = self._git(["check-ref-format", f"refs/heads/{branch}"], check=False)
        if check.returncode != 0:
            raise ValueError(f"{branch!r} is not a valid branch name")
        sha = self.head()
        destination = f"refs/heads/{branch}"
        # Push to the URL, not to "origin": pushing to a named remote would also move the mirror's
        # refs/heads/<branch> (the refspec maps it as a tracking ref) outside the mirror lock.
        args = ["push", "--porcelain", "--no-verify"]
        if force_with_lease:
            expected = expected_sha if expected_sha is not None else (self.mirror.branch_sha(branch) or "")
            args.append(f"--force-with-lease={destination}:{expected}")
        elif expected_sha is not None:
            raise ValueError("expected_sha only applies with force_with_lease=True")
        out = self._git([*args, self.remote.url, f"{sha}:{destination}"], network=True, check=False)
        if out.returncode != 0:
            rejected = [line for line in out.stdout.splitlines() if line.startswith("!")]
            if rejected:
                reason = rejected[0].split("\t")[-1]
                raise PushRejected(out.args, out.returncode, out.stderr, detail=f"{branch}: {reason}")
            raise GitError(out.args, out.returncode, out.stderr)
        log.info("git.pushed", remote=self.remote.url, branch=branch, sha=sha, lease=force_with_lease)
        return sha

    def revert(self, commit: str, *, message: str | None = None) -> RevertResult:
        """Commit the inverse of ``commit`` on top of HEAD.

        A merge commit is reverted against its first parent (``-m 1``: undo what the merge brought
        into the target branch); a single-parent (squash or rebase) commit plainly. On a conflict the
        revert is aborted, the work tree left clean, and the conflicting paths returned."""
        sha = self.resolve(commit)
        parent_count = len(self._git(["rev-list", "--parents", "-n", "1", sha]).stdout.split()) - 1
        mainline = 1 if parent_count > 1 else None
        args = ["revert", "--no-edit"]
        if mainline is not None:
            args += ["-m", str(mainline)]
        out = self._git([*args, sha], env=self._identity_env(None), check=False)
        if out.returncode == 0:
            if message is not None:
                if not message.strip():
                    raise ValueError("revert message is empty")
                self._git(
                    ["commit", "--amend", "--quiet", "--no-verify", "--cleanup=whitespace", "-F", "-"],
                    env=self._identity_env(None),
                    stdin=message.encode("utf-8"),
                )
            return RevertResult(RevertOutcome.REVERTED, sha, mainline, sha=self.head())
        conflicts = split_z(self._git(["diff", "--name-only", "--diff-filter=U", "-z"]).stdout)
        in_progress = self._git_path("REVERT_HEAD").exists()
        if conflicts or in_progress:
            self._git(["revert", "--abort"], check=False)
            if conflicts:
                return RevertResult(RevertOutcome.CONFLICT, sha, mainline, conflicts=conflicts)
            raise GitError(out.args, out.returncode, out.stderr)
        if self.is_clean():
            # git stops with "nothing to commit": the change is already undone on this base.
            self._git_path("MERGE_MSG").unlink(missing_ok=True)
            return RevertResult(RevertOutcome.NOTHING_TO_REVERT, sha, mainline)
        raise GitError(out.args, out.returncode, out.stderr)

    # -- comparisons --------------------------------------------------------------------------

    def diff(self, base: str = "HEAD", head: str | None = None, *, paths: Sequence[str] = ()) -> str:
        """Unified diff from ``base`` to ``head``; ``head=None`` means the work tree as it is now,
        new (untracked) files included. Nothing is staged: a throw-away index is used."""
        selection = ["--", *(repo_relpath(p) for p in paths)] if paths else []
        options = ["diff", "--no-color", "--no-ext-diff"]
        if head is not None:
            out = self._git([*options, self.resolve(base), self.resolve(head), *selection])
            return out.stdout
        with self._scratch_index() as env:
            return self._git([*options, "--cached", self.resolve(base), *selection], env=env).stdout

    def changed_files(self, base: str = "HEAD", head: str | None = None) -> tuple[str, ...]:
        """Paths that differ from ``base`` to ``head`` (None: the work tree), renames as delete + add."""
        options = ["diff", "--name-only", "--no-renames", "-z"]
        if head is not None:
            out = self._git([*options, self.resolve(base), self.resolve(head)])
            return split_z(out.stdout)
        with self._scratch_index() as env:
            return split_z(self._git([*options, "--cached", self.resolve(base)], env=env).stdout)

    # -- internals ----------------------------------------------------------------------------

    def _git(
        self,
        args: Sequence[str],
        *,
        network: bool = False,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> GitOutput:
        return self.mirror._git(
            args, cwd=self.path, network=network, check=check, env=env, config=WORKTREE_CONFIG, stdin=stdin
        )

    def _identity_env(self, author: GitIdentity | None) -> dict[str, str]:
        return identity_env(self.mirror.context.identity, author)

    def _git_path(self, name: str) -> Path:
        out = self._git(["rev-parse", "--git-path", name]).stdout.strip()
        return (self.path / out).resolve()

    @contextmanager
    def _scratch_index(self) -> Iterator[dict[str, str]]:
        """An environment whose index is a copy of the real one with every change staged."""
        real = self._git_path("index")
        scratch = real.with_name(f"index.scratch-{secrets.token_hex(6)}")
        try:
            if real.exists():
                # copy2 keeps the index's mtime: git's "racily clean" check compares entries with
                # it, so a file changed in the same second as the checkout is still seen as changed.
                shutil.copy2(real, scratch)
            env = {"GIT_INDEX_FILE": str(scratch)}
            self._git(["add", "--all", "--", "."], env=env)
            yield env
        finally:
            scratch.unlink(missing_ok=True)
