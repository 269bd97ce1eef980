"""Git workspaces: a cached mirror per repository and one throw-away work tree per job (real ``git``).

Layout under the data directory::

    mirrors/<host>/<owner>/<repo>.git        bare mirror: branches and tags, fetched, never re-cloned
    mirrors/<host>/<owner>/<repo>.git.lock   flock: serialises everything that changes the mirror
    worktrees/<host>/<owner>/<repo>/<random> one per job, removed when the job's ``with`` block ends
    bin/git-askpass                          hands the token to git (see :mod:`bot.adapters.git.askpass`)

How mirrors and work trees share objects safely is explained in :mod:`bot.adapters.git.mirror`;
what a work tree can do in :mod:`bot.adapters.git.worktree`.

Everything here blocks: callers run it in worker threads, never on an event loop.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import structlog

from bot.adapters.git.askpass import install_askpass
from bot.adapters.git.context import GitContext, TokenProvider
from bot.adapters.git.identity import GitIdentity
from bot.adapters.git.mirror import Mirror
from bot.adapters.git.remotes import RemoteRepo, parse_remote
from bot.adapters.git.runner import GitRunner
from bot.adapters.git.worktree import WorkTree

log = structlog.get_logger("gitops_bot.git")


class GitWorkspaces:
    """Entry point: mirrors under ``<data_dir>/mirrors`` and per-job work trees. Blocking; thread-safe
    and process-safe (several workers or bot processes may share one data directory)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        identity: GitIdentity,
        token_provider: TokenProvider | None = None,
        username: str = "x-access-token",
        command_timeout: float = 120.0,
        network_timeout: float = 900.0,
        lock_timeout: float = 900.0,
        partial_clone: bool = True,
        git_bin: str = "git",
        isolate_git_config: bool = True,
        inherited_env: Mapping[str, str] | None = None,
    ) -> None:
        """
        ``username`` goes with the token over HTTP (``x-access-token`` suits GitHub PATs and App
        installation tokens). ``partial_clone`` asks for ``--filter=blob:none`` (git silently gets
        everything when the server cannot filter). ``lock_timeout`` bounds the wait for another
        job's clone/fetch of the same repository. ``isolate_git_config`` ignores the host's global
        and system git config.
        """
        # Absolute: git records work tree paths in the mirror, and relative ones would break as
        # soon as the process changes directory.
        self.data_dir = Path(data_dir).absolute()
        self.identity = identity
        runner = GitRunner(
            git_bin, timeout=command_timeout, isolate_config=isolate_git_config, inherited_env=inherited_env
        )
        self._context = GitContext(
            runner=runner,
            identity=identity,
            askpass=install_askpass(self.data_dir / "bin"),
            token_provider=token_provider,
            username=username,
            network_timeout=network_timeout,
            lock_timeout=lock_timeout,
            partial_clone=partial_clone,
        )

    @property
    def askpass_path(self) -> Path:
        return self._context.askpass

    def mirror_path(self, remote_url: str) -> Path:
        return self.data_dir / "mirrors" / parse_remote(remote_url).mirror_relpath

    def mirror(self, remote_url: str, *, refresh: bool = True) -> Mirror:
        """The repository's mirror: cloned on first use, fetched when ``refresh`` (never re-cloned)."""
        mirror = self._handle(remote_url)
        with mirror.locked():
            mirror._ensure_locked(refresh=refresh)
        return mirror

    @contextmanager
    def worktree(
        self,
        remote_url: str,
        ref: str | None = None,
        *,
        refresh: bool = True,
        sparse: Sequence[str] | None = None,
    ) -> Iterator[WorkTree]:
        """A fresh work tree at ``ref`` (a branch, tag, ``refs/pull/N/head`` or sha; None: the default
        branch), removed when the block ends, also on exceptions. ``refresh`` fetches first.

        ``sparse``: check out only these paths (files, or directories ending in ``/``). An update
        touches a few files of a repository that may hold thousands; checking out only those is
        what keeps a one-line change under a second. Commits still carry the whole tree."""
        mirror = self._handle(remote_url)
        with mirror._open_worktree(ref, ensure=True, refresh=refresh, sparse=sparse) as tree:
            yield tree

    def remove_stale_worktrees(self, *, older_than: float = 24 * 3600.0) -> int:
        """Remove work trees left behind by crashed processes; returns how many were removed.

        A work tree is normally removed by its ``with`` block; one whose directory is older than
        ``older_than`` seconds belongs to a process that died. Keep ``older_than`` well above the
        longest job (a Terraform apply). Meant for a periodic scheduler task."""
        removed = 0
        root = self.data_dir / "worktrees"
        now = time.time()
        for repo_dir in sorted(root.glob("*/*/*")):
            stale = [p for p in repo_dir.iterdir() if p.is_dir() and now - p.stat().st_mtime > older_than]
            if not stale:
                continue
            host, owner, name = repo_dir.relative_to(root).parts
            # Only the paths matter here: discarding work trees needs no URL and no credentials.
            mirror = Mirror(
                remote=RemoteRepo(url="", scheme="file", host=host, owner=owner, name=name),
                path=self.data_dir / "mirrors" / host / owner / f"{name}.git",
                worktrees_root=repo_dir,
                context=self._context,
            )
            with mirror.locked():
                for path in stale:
                    if mirror.path.is_dir():
                        mirror._discard_worktree_locked(path)
                    else:
                        shutil.rmtree(path, ignore_errors=True)
                    log.warning("git.worktree.stale_removed", path=str(path))
                    removed += 1
        return removed

    def _handle(self, remote_url: str) -> Mirror:
        remote = parse_remote(remote_url)
        return Mirror(
            remote=remote,
            path=self.data_dir / "mirrors" / remote.mirror_relpath,
            # Work trees stay under host/owner/name (the stale sweep reads that layout); each has a
            # directory of its own, so projects of nested groups sharing owner/name do not meet.
            worktrees_root=self.data_dir / "worktrees" / remote.host / remote.owner / remote.name,
            context=self._context,
        )
