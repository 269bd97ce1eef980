"""Reading `.gitops-bot.yaml` from a repository's default branch, with a short cache.

Always the default branch: a pull request cannot loosen its own rules by editing the
config it is judged by.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.adapters.forge.port import Forge
from bot.config import ConfigError, ConfigInvalid, RepoConfig, load_repo_config_bytes

CONFIG_PATH = ".gitops-bot.yaml"


@dataclass(frozen=True)
class LoadedConfig:
    repo: str
    branch: str
    config: RepoConfig | None  # None when missing or invalid
    errors: tuple[ConfigError, ...] = field(default=())

    @property
    def missing(self) -> bool:
        return self.config is None and not self.errors

    def problem(self) -> str | None:
        """A sentence for a PR comment or Slack reply when there is no usable config."""
        if self.config is not None:
            return None
        if self.missing:
            return f"{self.repo} has no {CONFIG_PATH} on its default branch ({self.branch})"
        lines = "\n".join(f"- {error}" for error in self.errors)
        return f"{CONFIG_PATH} on {self.repo}@{self.branch} is invalid:\n{lines}"


class RepoConfigLoader:
    def __init__(self, *, ttl_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, LoadedConfig]] = {}
        self._lock = threading.Lock()

    def load(self, forge: Forge, repo: str, *, fresh: bool = False) -> LoadedConfig:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(repo)
        if cached is not None and not fresh and now - cached[0] < self.ttl_seconds:
            return cached[1]
        branch = forge.default_branch(repo)
        data = forge.read_file(repo, CONFIG_PATH, branch)
        if data is None:
            loaded = LoadedConfig(repo, branch, None)
        else:
            # Size, encoding, nesting and schema problems all end here, as errors with a line:
            # the caller reports them and the job succeeds (retrying cannot fix the file).
            try:
                config = load_repo_config_bytes(data, filename=CONFIG_PATH)
                loaded = LoadedConfig(repo, branch, config)
            except ConfigInvalid as invalid:
                loaded = LoadedConfig(repo, branch, None, tuple(invalid.errors))
        with self._lock:
            self._cache[repo] = (now, loaded)
        return loaded

    def invalidate(self, repo: str) -> None:
        with self._lock:
            self._cache.pop(repo, None)
