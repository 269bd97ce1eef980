"""Cached mirrors per repository and one throw-away work tree per job, on the real ``git`` binary.

Layout under the data directory::

    mirrors/<host>/<owner>/<repo>.git        bare mirror: branches and tags, fetched, never re-cloned
    mirrors/<host>/<owner>/<repo>.git.lock   flock: serialises everything that changes the mirror
    worktrees/<host>/<owner>/<repo>/<random> one per job, removed when the job's ``with`` block ends
    bin/git-askpass                          hands the token to git (see :mod:`bot.adapters.git.askpass`)

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
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

import structlog

from bot.adapters.git.askpass import askpass_env, install_askpass
from bot.adapters.git.errors import GitError, PushRejected, UnknownRevision
from bot.adapters.git.locking import file_lock
from bot.adapters.git.remotes import LOCAL_HOST, RemoteRepo, parse_remote
from bot.adapters.git.runner import GitOutput, GitRunner

log = structlog.get_logger("gitops_bot.git")

TokenProvider = Callable[[RemoteRepo], str | None]
"""Returns the token for a repository (or None for anonymous access); called once per network
command, so GitHub App installation tokens may rotate between calls. Should be cheap (cache)."""

# Branches and tags only: ``clone --mirror`` would also copy ``refs/pull/*`` (thousands of refs on
# busy repositories) and set ``remote.origin.mirror=true``, which turns a stray ``git push origin``
# into a push that deletes every remote branch the mirror lacks.
MIRROR_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
# For commands run in a work tree: no automatic gc outside the lock (see the module docstring).
WORKTREE_CONFIG = ("gc.auto=0", "maintenance.auto=false")
_FILTER_IGNORED = "filtering not recognized by server"


@dataclass(frozen=True)
class GitIdentity:
    """Who commits: the bot (committer, and author unless another is given)."""

    name: str
    email: str

    def __post_init__(self) -> None:
        for label, value in (("name", self.name), ("email", self.email)):
            if not value.strip() or any(ch in value for ch in "<>\n\r\0"):
                raise ValueError(f"git identity {label} {value!r} is empty or contains <, >, or a newline")


class RevertOutcome(StrEnum):
    REVERTED = "reverted"
    CONFLICT = "conflict"
    # The commit's changes are already undone on this base: reverting would be an empty commit.
    NOTHING_TO_REVERT = "nothing_to_revert"


@dataclass(frozen=True)
class RevertResult:
    """What :meth:`WorkTree.revert` did; a conflict is an outcome, not an exception."""

    outcome: RevertOutcome
    reverted: str  # full sha of the commit that was (or could not be) reverted
    mainline: int | None  # 1 when ``reverted`` is a merge commit, else None
    sha: str | None = None  # the new revert commit, when ``outcome`` is REVERTED
    conflicts: tuple[str, ...] = ()  # conflicting paths, when ``outcome`` is CONFLICT

    @property
    def ok(self) -> bool:
        return self.outcome is RevertOutcome.REVERTED


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
        self._token_provider = token_provider
        self._username = username
        self._network_timeout = network_timeout
        self._lock_timeout = lock_timeout
        self._partial_clone = partial_clone
        self._runner = GitRunner(
            git_bin, timeout=command_timeout, isolate_config=isolate_git_config, inherited_env=inherited_env
        )
        self._askpass = install_askpass(self.data_dir / "bin")

    @property
    def askpass_path(self) -> Path:
        return self._askpass

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
                owner=self,
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
            worktrees_root=self.data_dir / "worktrees" / remote.host / remote.owner / remote.name,
            owner=self,
        )

    # -- used by Mirror and WorkTree ---------------------------------------------------------

    def _auth(self, remote: RemoteRepo) -> tuple[dict[str, str], tuple[str, ...]]:
        if self._token_provider is None or not remote.uses_http:
            return {}, ()
        token = self._token_provider(remote)
        if not token:
            return {}, ()
        return askpass_env(self._askpass, self._username, token), (token,)


class Mirror:
    """A bare mirror of one repository. Read methods need no lock; mutations take it themselves."""

    def __init__(self, *, remote: RemoteRepo, path: Path, worktrees_root: Path, owner: GitWorkspaces) -> None:
        self.remote = remote
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._worktrees_root = worktrees_root
        self._owner = owner
        self._partial: bool | None = None

    def __repr__(self) -> str:
        return f"Mirror({self.remote.url!r} at {str(self.path)!r})"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The repository's lock (threads and processes); not re-entrant."""
        with file_lock(self.lock_path, timeout=self._owner._lock_timeout):
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
        _check_ref(branch)
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
        relpath = _repo_relpath(path)
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
        return _split_z(out.stdout)

    def diff(self, base: str, head: str, *, paths: Sequence[str] = ()) -> str:
        """Unified diff text from ``base`` to ``head`` (for PR bodies)."""
        args = ["diff", "--no-color", "--no-ext-diff", self.resolve(base), self.resolve(head)]
        if paths:
            args += ["--", *(_repo_relpath(p) for p in paths)]
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
        owner = self._owner
        # A partial clone may fetch missing blobs during any command, so it always carries credentials.
        needs_auth = (network or self.is_partial) if auth is None else auth
        auth_env, secret_values = owner._auth(self.remote) if needs_auth else ({}, ())
        return owner._runner.run(
            args,
            cwd=cwd or self.path,
            env={**auth_env, **(env or {})},
            secrets=secret_values,
            config=config,
            timeout=owner._network_timeout if network else None,
            check=check,
            stdin=stdin,
        )

    def _try_resolve(self, ref: str) -> str | None:
        _check_ref(ref)
        out = self._git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False, auth=False)
        return out.stdout.strip() if out.returncode == 0 else None

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
        args = ["clone", "--bare", "--quiet"]
        if self._owner._partial_clone:
            args.append("--filter=blob:none")
        try:
            out = self._git(
                [*args, "--", self.remote.url, str(temporary)], cwd=self.path.parent, network=True
            )
            run_in = {"cwd": temporary, "auth": False}
            if _FILTER_IGNORED in out.stderr:
                # git fell back to a full clone but still marks the remote as a promisor; undo that so
                # local commands never think they may need the network.
                self._git(["config", "--unset", "remote.origin.promisor"], check=False, **run_in)
                self._git(["config", "--unset", "remote.origin.partialclonefilter"], check=False, **run_in)
            self._git(["config", "remote.origin.fetch", MIRROR_REFSPECS[0]], **run_in)
            for refspec in MIRROR_REFSPECS[1:]:
                self._git(["config", "--add", "remote.origin.fetch", refspec], **run_in)
            # gc only inside fetch, under the lock: never detached into the background.
            self._git(["config", "gc.autoDetach", "false"], **run_in)
            self._git(["config", "maintenance.autoDetach", "false"], **run_in)
            self._git(["config", "core.logAllRefUpdates", "false"], **run_in)
            temporary.rename(self.path)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        self._partial = None
        log.info("git.mirror.cloned", remote=self.remote.url, path=str(self.path), partial=self.is_partial)

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
                    patterns = [_sparse_pattern(item) for item in sparse]
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


class WorkTree:
    """One job's checkout (detached HEAD). Not shared: one thread uses it, then it is removed."""

    def __init__(self, *, mirror: Mirror, path: Path, base_sha: str) -> None:
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
        _check_ref(ref)
        out = self._git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False)
        if out.returncode != 0:
            raise UnknownRevision(out.args, out.returncode, out.stderr, detail=f"no commit {ref!r}")
        return out.stdout.strip()

    # -- files --------------------------------------------------------------------------------

    def file_path(self, path: str) -> Path:
        """The absolute path of a repository-relative ``path``; ``ValueError`` if it leaves the tree."""
        relpath = _repo_relpath(path)
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
        targets = [_repo_relpath(p) for p in paths] if paths else ["."]
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
        _check_ref(branch)
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
        conflicts = _split_z(self._git(["diff", "--name-only", "--diff-filter=U", "-z"]).stdout)
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
        selection = ["--", *(_repo_relpath(p) for p in paths)] if paths else []
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
            return _split_z(out.stdout)
        with self._scratch_index() as env:
            return _split_z(self._git([*options, "--cached", self.resolve(base)], env=env).stdout)

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
        bot = self.mirror._owner.identity
        who = author or bot
        return {
            "GIT_AUTHOR_NAME": who.name,
            "GIT_AUTHOR_EMAIL": who.email,
            "GIT_COMMITTER_NAME": bot.name,
            "GIT_COMMITTER_EMAIL": bot.email,
        }

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


def _check_ref(ref: str) -> None:
    # A ref starting with "-" would be read as an option by git.
    if not ref or ref.startswith("-") or any(ch.isspace() or ch == "\0" for ch in ref):
        raise ValueError(f"invalid git ref {ref!r}")


def _repo_relpath(path: str) -> str:
    """A normalised repository-relative path; ``ValueError`` for absolute paths, ``..`` and ``.git``."""
    if not path or "\0" in path:
        raise ValueError(f"invalid repository path {path!r}")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise ValueError(f"repository path {path!r} must be relative")
    parts = [part for part in pure.parts if part != "."]
    if not parts or ".." in parts or ".git" in parts:
        raise ValueError(f"repository path {path!r} is empty, climbs out with '..', or enters .git")
    return "/".join(parts)


def _sparse_pattern(path: str) -> str:
    """A non-cone sparse-checkout pattern matching exactly one file, or one directory's tree."""
    directory = path.endswith("/")
    relative = _repo_relpath(path.rstrip("/") if directory else path)
    # Escape gitignore specials so a path is taken literally.
    escaped = "".join("\\" + ch if ch in "*?[]!#\\" else ch for ch in relative)
    return f"/{escaped}/" if directory else f"/{escaped}"


def _split_z(text: str) -> tuple[str, ...]:
    return tuple(item for item in text.split("\0") if item)
