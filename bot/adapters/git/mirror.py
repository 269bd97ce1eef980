"""The cached mirror of one repository, and the work trees made from it (real ``git``).

Why ``git worktree add --detach`` and not ``git clone --shared``/``--reference``: a shared clone
borrows the mirror's objects through ``alternates`` but the mirror cannot see the clone, so a
``gc`` in the mirror after a force-push may delete objects the clone still needs and corrupt it.
A linked work tree is known to the mirror (``$GIT_DIR/worktrees/<id>``): its HEAD and index are
reachability roots for ``gc``, so objects in use are never pruned. Each job gets its own directory
and its own detached HEAD (no branch is ever checked out, so fetch may update every branch), and
``worktree add``/``remove``/``prune`` run under the mirror lock with clone and fetch. Commits in a
work tree write objects into the shared store without the lock, which git makes safe (objects are
written to temporary files and renamed); automatic ``gc`` is switched off for those commands so it
only ever runs inside ``fetch``, under the lock and in the foreground (``gc.autoDetach=false``).

Everything here blocks: callers run it in worker threads, never on an event loop.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import structlog

from bot.adapters.git.context import GitContext
from bot.adapters.git.errors import GitError, UnknownRevision
from bot.adapters.git.locking import file_lock
from bot.adapters.git.paths import sparse_pattern
from bot.adapters.git.remotes import LOCAL_HOST, RemoteRepo
from bot.adapters.git.repository import BareRepository
from bot.adapters.git.worktree import WorkTree

log = structlog.get_logger("gitops_bot.git")

# Branches and tags only: ``clone --mirror`` would also copy ``refs/pull/*`` (thousands of refs on
# busy repositories) and set ``remote.origin.mirror=true``, which turns a stray ``git push origin``
# into a push that deletes every remote branch the mirror lacks.
MIRROR_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_FILTER_IGNORED = "filtering not recognized by server"
# Written by the clone into the new mirror's config (one process, not one per setting): gc only
# inside fetch, under the lock, never detached into the background; no reflogs to grow.
_MIRROR_CONFIG = (
    *("--config", "gc.autoDetach=false"),
    *("--config", "maintenance.autoDetach=false"),
    *("--config", "core.logAllRefUpdates=false"),
)


class Mirror(BareRepository):
    """A bare mirror of one repository. Read methods need no lock; mutations take it themselves."""

    def __init__(self, *, remote: RemoteRepo, path: Path, worktrees_root: Path, context: GitContext) -> None:
        super().__init__(remote=remote, path=path, context=context)
        self.lock_path = path.with_name(path.name + ".lock")
        self._worktrees_root = worktrees_root

    def __repr__(self) -> str:
        return f"Mirror({self.remote.url!r} at {str(self.path)!r})"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The repository's lock (threads and processes); not re-entrant."""
        with file_lock(self.lock_path, timeout=self.context.lock_timeout):
            yield

    # -- mutations (take the lock) ------------------------------------------------------------

    def fetch(self) -> None:
        """Bring branches and tags up to date (clones if the mirror is missing)."""
        with self.locked():
            self._ensure_locked(refresh=True)

    @contextmanager
    def worktree(self, ref: str | None = None) -> Iterator[WorkTree]:
        """A fresh work tree at ``ref`` without fetching first (see :meth:`GitWorkspaces.worktree`)."""
        with self._open_worktree(ref, ensure=False, refresh=False) as tree:
            yield tree

    # -- internals ----------------------------------------------------------------------------

    def _ensure_locked(self, *, refresh: bool) -> None:
        if not (self.path / "HEAD").is_file():
            self._clone_locked()
            return
        self._check_origin_locked()
        if refresh:
            self._git(["fetch", "--prune", "--quiet", "--no-write-fetch-head", "origin"], network=True)
            self._follow_remote_head_locked()

    def _clone_locked(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            # Not a repository (no HEAD) yet occupying the mirror's place: left by hand or by a
            # crash in an older layout. Clones are renamed into place, so this is never our own
            # half-finished clone.
            raise GitError((), None, "", detail=f"{self.path} exists but is not a git mirror; remove it")
        temporary = self.path.with_name(f".{self.path.name}.clone-{secrets.token_hex(6)}")
        args = ["clone", "--bare", "--quiet", *_MIRROR_CONFIG]
        if self.context.partial_clone:
            args.append("--filter=blob:none")
        try:
            out = self._git(
                [*args, "--", self.remote.url, str(temporary)], cwd=self.path.parent, network=True
            )
            self._configure_clone(temporary, filter_ignored=_FILTER_IGNORED in out.stderr)
            temporary.rename(self.path)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        self._partial = None
        log.info("git.mirror.cloned", remote=self.remote.url, path=str(self.path), partial=self.is_partial)

    def _configure_clone(self, clone: Path, *, filter_ignored: bool) -> None:
        """Turn a fresh bare clone (not yet in place, so no lock holder can see it) into a mirror."""

        def config(*args: str, check: bool = True) -> None:
            self._git(["config", *args], cwd=clone, auth=False, check=check)

        if filter_ignored:
            # git fell back to a full clone but still marks the remote as a promisor; undo that so
            # local commands never think they may need the network.
            config("--unset", "remote.origin.promisor", check=False)
            config("--unset", "remote.origin.partialclonefilter", check=False)
        # Not given to the clone itself: its own refspec would then be a second update of each ref.
        config("remote.origin.fetch", MIRROR_REFSPECS[0])
        for refspec in MIRROR_REFSPECS[1:]:
            config("--add", "remote.origin.fetch", refspec)

    def _check_origin_locked(self) -> None:
        out = self._git(["config", "--get", "remote.origin.url"], check=False, auth=False)
        current = out.stdout.strip()
        if current == self.remote.url:
            return
        if self.remote.host == LOCAL_HOST:
            # Local paths that share their last two components would map to one mirror.
            raise GitError(
                (), None, "", detail=f"mirror {self.path} belongs to {current!r}, not {self.remote.url!r}"
            )
        # Same host, owner and name: the same repository spelled differently (ssh vs https, .git).
        self._git(["config", "remote.origin.url", self.remote.url], auth=False)

    def _follow_remote_head_locked(self) -> None:
        # Follow a renamed default branch: fetch never moves a bare repository's HEAD by itself.
        out = self._git(["ls-remote", "--symref", "origin", "HEAD"], network=True)
        for line in out.stdout.splitlines():
            if line.startswith("ref: ") and line.endswith("\tHEAD"):
                target = line[len("ref: ") : -len("\tHEAD")]
                current = self._git(
                    ["symbolic-ref", "--quiet", "HEAD"], check=False, auth=False
                ).stdout.strip()
                if target != current and self._try_resolve(target) is not None:
                    self._git(["symbolic-ref", "HEAD", target], auth=False)
                return

    def _resolve_or_fetch_locked(self, ref: str | None) -> str:
        if ref is None:
            return self.resolve("HEAD")
        sha = self._try_resolve(ref)
        if sha is not None:
            return sha
        # Not among the mirrored branches and tags: a PR head (refs/pull/N/head, e.g. from a fork) or
        # a sha reachable only from one. Fetch just that; the work tree's HEAD then keeps it alive.
        out = self._git(["fetch", "--quiet", "origin", ref], network=True, check=False)
        if out.returncode != 0:
            raise UnknownRevision(
                out.args, out.returncode, out.stderr, detail=f"no commit {ref!r} on the remote"
            )
        return self.resolve("FETCH_HEAD")

    @contextmanager
    def _open_worktree(
        self, ref: str | None, *, ensure: bool, refresh: bool, sparse: Sequence[str] | None = None
    ) -> Iterator[WorkTree]:
        path = self._worktrees_root / secrets.token_hex(8)
        with self.locked():
            if ensure:
                self._ensure_locked(refresh=refresh)
            sha = self._resolve_or_fetch_locked(ref)
            self._worktrees_root.mkdir(parents=True, exist_ok=True)
            try:
                if sparse is None:
                    self._git(["worktree", "add", "--detach", "--quiet", str(path), sha])
                else:
                    patterns = [sparse_pattern(item) for item in sparse]
                    self._git(["worktree", "add", "--detach", "--quiet", "--no-checkout", str(path), sha])
                    # Per-work-tree settings (git turns on extensions.worktreeConfig), so other
                    # jobs' work trees keep their full checkout.
                    self._git(["sparse-checkout", "set", "--no-cone", "--", *patterns], cwd=path)
                    self._git(["checkout", "--quiet", "--detach", sha], cwd=path)
            except BaseException:
                self._discard_worktree_locked(path)
                raise
        log.debug("git.worktree.added", remote=self.remote.url, path=str(path), sha=sha)
        failed = False
        try:
            yield WorkTree(mirror=self, path=path, base_sha=sha)
        except BaseException:
            failed = True
            raise
        finally:
            try:
                with self.locked():
                    self._discard_worktree_locked(path)
            except Exception as error:
                if not failed:
                    raise
                # Keep the job's own error; a leftover directory is only disk space.
                log.warning("git.worktree.cleanup_failed", path=str(path), error=str(error))

    def _discard_worktree_locked(self, path: Path) -> None:
        self._git(["worktree", "remove", "--force", "--force", str(path)], check=False, auth=False)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        self._git(["worktree", "prune"], auth=False)
