"""A bare repository on disk, how git runs in it (with the remote's credentials when it may need
the network), and the questions it answers without changing anything.

Reads need no lock: git reads are safe while another process fetches into the same repository.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.adapters.git.context import GitContext
from bot.adapters.git.errors import GitError, UnknownRevision
from bot.adapters.git.paths import check_ref, repo_relpath, split_z
from bot.adapters.git.remotes import RemoteRepo
from bot.adapters.git.runner import GitOutput


class BareRepository:
    """The read side of a :class:`~bot.adapters.git.mirror.Mirror`, and its way of running git."""

    def __init__(self, *, remote: RemoteRepo, path: Path, context: GitContext) -> None:
        self.remote = remote
        self.path = path
        self.context = context
        self._partial: bool | None = None

    # -- reads (no lock: git reads are safe while another process fetches) --------------------

    def resolve(self, ref: str) -> str:
        """The full sha of the commit ``ref`` names; :class:`UnknownRevision` if none."""
        sha = self._try_resolve(ref)
        if sha is None:
            raise UnknownRevision(
                ("git", "rev-parse", ref), 1, "", detail=f"no commit {ref!r} in {self.remote.url}"
            )
        return sha

    def branch_sha(self, branch: str) -> str | None:
        """The sha of ``refs/heads/<branch>`` as of the last fetch, or None when there is no such branch."""
        check_ref(branch)
        return self._try_resolve(f"refs/heads/{branch}")

    def default_branch(self) -> str:
        """The remote's default branch, as of the last fetch."""
        out = self._git(["symbolic-ref", "--quiet", "--short", "HEAD"])
        return out.stdout.strip()

    def parents(self, ref: str) -> tuple[str, ...]:
        """The commit's parents (two or more for a merge commit, none for a root commit)."""
        sha = self.resolve(ref)
        out = self._git(["rev-list", "--parents", "-n", "1", sha])
        return tuple(out.stdout.split()[1:])

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant`` (a commit is its own ancestor)."""
        a, d = self.resolve(ancestor), self.resolve(descendant)
        out = self._git(["merge-base", "--is-ancestor", a, d], check=False)
        if out.returncode not in (0, 1):
            raise GitError(out.args, out.returncode, out.stderr)
        return out.returncode == 0

    def merge_base(self, a: str, b: str) -> str:
        """The best common ancestor of two commits; :class:`UnknownRevision` when they share none."""
        out = self._git(["merge-base", self.resolve(a), self.resolve(b)], check=False)
        if out.returncode != 0:
            raise UnknownRevision(
                out.args, out.returncode, out.stderr, detail=f"{a!r} and {b!r} share no history"
            )
        return out.stdout.strip()

    def show_bytes(self, ref: str, path: str) -> bytes | None:
        """The file's bytes at ``ref``, or None when ``path`` does not exist there.

        Raises :class:`UnknownRevision` for an unknown ``ref`` and ``ValueError`` for a directory."""
        sha = self.resolve(ref)
        relpath = repo_relpath(path)
        spec = f"{sha}:{relpath}"
        found = self._git(["rev-parse", "--verify", "--quiet", spec], check=False)
        if found.returncode != 0:
            return None
        oid = found.stdout.strip()
        kind = self._git(["cat-file", "-t", oid]).stdout.strip()
        if kind != "blob":
            raise ValueError(f"{relpath!r} at {ref!r} is a {kind}, not a file")
        return self._git(["cat-file", "blob", oid]).stdout_bytes

    def show(self, ref: str, path: str) -> str | None:
        """The file's text (UTF-8) at ``ref``, or None when ``path`` does not exist there."""
        data = self.show_bytes(ref, path)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{path!r} at {ref!r} is not UTF-8 text: {error}") from None

    def changed_files(self, base: str, head: str) -> tuple[str, ...]:
        """Paths that differ between two revisions (renames as delete + add, so both paths appear).

        For "what did this branch change", pass ``merge_base(default, branch)`` as ``base``."""
        out = self._git(["diff", "--name-only", "--no-renames", "-z", self.resolve(base), self.resolve(head)])
        return split_z(out.stdout)

    def diff(self, base: str, head: str, *, paths: Sequence[str] = ()) -> str:
        """Unified diff text from ``base`` to ``head`` (for PR bodies)."""
        args = ["diff", "--no-color", "--no-ext-diff", self.resolve(base), self.resolve(head)]
        if paths:
            args += ["--", *(repo_relpath(p) for p in paths)]
        return self._git(args).stdout

    # -- internals ----------------------------------------------------------------------------

    @property
    def is_partial(self) -> bool:
        """Whether the mirror is a partial clone (blobs are fetched on demand, with credentials)."""
        if self._partial is None:
            out = self._git(["config", "--bool", "--get", "remote.origin.promisor"], check=False, auth=False)
            self._partial = out.stdout.strip() == "true"
        return self._partial

    def _git(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        network: bool = False,
        auth: bool | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        config: Sequence[str] = (),
        stdin: bytes | None = None,
    ) -> GitOutput:
        context = self.context
        # A partial clone may fetch missing blobs during any command, so it always carries credentials.
        needs_auth = (network or self.is_partial) if auth is None else auth
        auth_env, secret_values = context.auth(self.remote) if needs_auth else ({}, ())
        return context.runner.run(
            args,
            cwd=cwd or self.path,
            env={**auth_env, **(env or {})},
            secrets=secret_values,
            config=config,
            timeout=context.network_timeout if network else None,
            check=check,
            stdin=stdin,
        )

    def _try_resolve(self, ref: str) -> str | None:
        check_ref(ref)
        out = self._git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False, auth=False)
        return out.stdout.strip() if out.returncode == 0 else None
