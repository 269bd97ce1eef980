"""A deployment's version history read from git: the bot's mirror of the GitOps repository (never
the forge's API), the newest :data:`HISTORY_LIMIT` commits of the default branch that changed the
deployment's target files, and the version each one left there.

The mirror is fetched at most every :data:`REFRESH_SECONDS` for these pages (the bot fetches it
anyway whenever it records a merge); what was read is kept in memory per head commit, so a page
reloaded on an unchanged branch reads nothing from git. Blocking: call from a thread pool.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from bot.adapters.git.errors import GitError
from bot.adapters.git.history import LoggedCommit, file_log, read_files
from bot.adapters.git.paths import repo_relpath
from bot.config.deployments import Deployment as ConfiguredDeployment
from bot.console.deployment_view import Commit
from bot.deployments.merged import version_in

if TYPE_CHECKING:
    from bot.adapters.git import Mirror
    from bot.services import Services

log = structlog.get_logger("gitops_bot.console")

HISTORY_LIMIT = 50
REFRESH_SECONDS = 30.0
CACHED_HISTORIES = 256


@dataclass(frozen=True)
class GitHistory:
    """The commits (newest first) with their versions, and the version before the oldest one."""

    head: str | None
    commits: tuple[Commit, ...]
    before_oldest: tuple[str | None, str | None]
    problem: str | None = None  # why the history is missing or may be stale


class VersionHistory:
    """Reads and keeps deployments' histories (one per app: thread-safe)."""

    def __init__(
        self,
        services: Services,
        *,
        limit: int = HISTORY_LIMIT,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = services
        self.limit = limit
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._fetched: dict[str, float] = {}
        self._cache: OrderedDict[tuple[str, ...], GitHistory] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, repo: str, deployment: ConfiguredDeployment) -> GitHistory:
        mirror, problem = self._mirror(repo)
        if mirror is None:
            return GitHistory(None, (), (None, None), problem)
        try:
            head = mirror.resolve("HEAD")
            files = list(dict.fromkeys(repo_relpath(target.file) for target in deployment.targets))
            signature = tuple(f"{t.file}:{t.location}:{t.format}" for t in deployment.targets)
            key = (repo, deployment.name, head, *signature)
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
            if cached is not None:
                return cached if problem is None else _with_problem(cached, problem)
            found = self._read(mirror, head, deployment, files)
        except (GitError, ValueError) as error:
            log.warning("console.history_unreadable", repo=repo, deployment=deployment.name, error=str(error))
            return GitHistory(None, (), (None, None), f"git could not read the history of {repo}: {error}")
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > CACHED_HISTORIES:
                self._cache.popitem(last=False)
        return found if problem is None else _with_problem(found, problem)

    def _mirror(self, repo: str) -> tuple[Mirror | None, str | None]:
        """The repository's mirror, fetched when the last fetch for these pages is old; when the
        fetch fails, the mirror as it is (and why it may be stale)."""
        workspaces = self.services.git()
        url = self.services.settings.clone_url(repo)
        now = self._clock()
        with self._lock:
            due = now - self._fetched.get(repo, float("-inf")) >= self.refresh_seconds
        try:
            mirror = workspaces.mirror(url, refresh=due)
        except GitError as error:
            log.warning("console.history_fetch_failed", repo=repo, error=str(error))
            problem = f"git could not fetch {repo}: {error}"
            try:
                return workspaces.mirror(url, refresh=False), problem + " (showing the last fetched history)"
            except GitError:
                return None, problem
        if due:
            with self._lock:
                self._fetched[repo] = now
        return mirror, None

    def _read(
        self, mirror: Mirror, head: str, deployment: ConfiguredDeployment, files: list[str]
    ) -> GitHistory:
        logged = file_log(mirror, head, files, limit=self.limit)
        oldest_parent = logged[-1].parents[0] if logged and logged[-1].parents else None
        shas = [item.sha for item in logged] + ([oldest_parent] if oldest_parent else [])
        blobs = read_files(mirror, [(sha, path) for sha in shas for path in files])

        def version_at(sha: str | None) -> tuple[str | None, str | None]:
            if sha is None:
                return None, None

            def read(path: str) -> str | None:
                data = blobs.get((sha, repo_relpath(path)))
                return None if data is None else data.decode("utf-8", errors="replace")

            found = version_in(deployment.targets, read)
            return (None, None) if found is None else found

        commits = tuple(_commit(item, *version_at(item.sha)) for item in logged)
        return GitHistory(head, commits, version_at(oldest_parent))


def _commit(item: LoggedCommit, version: str | None, digest: str | None) -> Commit:
    return Commit(item.sha, item.author, item.committed_at, item.subject, item.body, version, digest)


def _with_problem(history: GitHistory, problem: str) -> GitHistory:
    return GitHistory(history.head, history.commits, history.before_oldest, problem)


__all__ = ["HISTORY_LIMIT", "REFRESH_SECONDS", "GitHistory", "VersionHistory"]
