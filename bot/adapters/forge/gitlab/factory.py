"""Building the :class:`~bot.adapters.forge.gitlab.adapter.GitLabForge`: one python-gitlab client
(token auth, a timeout, a bounded retry), shared by every thread."""

from __future__ import annotations

import threading
import urllib.parse
from typing import Any

import gitlab
import requests
from requests.adapters import HTTPAdapter

from bot.adapters.forge.github.factory import USER_AGENT
from bot.adapters.forge.gitlab.adapter import GitLabForge
from bot.adapters.forge.gitlab.errors import BoundedRetry


class GitLabForgeFactory:
    """The GitLab forge for one instance (gitlab.com or self-managed) and one access token."""

    def __init__(
        self,
        *,
        url: str = "https://gitlab.com",
        token: str | None = None,
        timeout: float = 15.0,
        retries: int = 3,
        backoff_factor: float = 0.5,
        max_retry_wait: float = 60.0,
        mergeable_poll_attempts: int = 5,
        mergeable_poll_interval: float = 1.0,
        per_page: int = 100,
        user_agent: str = USER_AGENT,
    ) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"the GitLab URL must be http(s)://host[/path], got {url!r}")
        if timeout <= 0:
            raise ValueError("the timeout must be a positive number of seconds")
        self.url = url.rstrip("/")
        self._token = token or None
        self._timeout = timeout
        self._retry = BoundedRetry(
            max_retry_wait=max_retry_wait, total=retries, backoff_factor=backoff_factor
        )
        self._poll = {
            "mergeable_poll_attempts": mergeable_poll_attempts,
            "mergeable_poll_interval": mergeable_poll_interval,
        }
        self._per_page = per_page
        self._user_agent = user_agent
        self._forge: GitLabForge | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> GitLabForgeFactory:
        """From ``bot.settings.Settings`` (its GitLab fields); ``overrides`` win."""
        token = settings.gitlab_token.get_secret_value() if settings.gitlab_token else None
        kwargs: dict[str, Any] = {
            "url": settings.gitlab_url,
            "token": token,
            "timeout": settings.gitlab_timeout_seconds,
            "retries": settings.gitlab_retries,
            "max_retry_wait": settings.github_max_retry_wait_seconds,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def forge(self) -> GitLabForge:
        with self._lock:
            if self._forge is None:
                self._forge = GitLabForge(self._client(), **self._poll)
            return self._forge

    def git_token(self) -> str | None:
        """What git presents over HTTPS (any user name works with a GitLab access token)."""
        return self._token

    def close(self) -> None:
        with self._lock:
            if self._forge is not None:
                self._forge.close()
                self._forge = None

    def _client(self) -> gitlab.Gitlab:
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=self._retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return gitlab.Gitlab(
            self.url,
            private_token=self._token,
            timeout=self._timeout,
            session=session,
            per_page=self._per_page,
            user_agent=self._user_agent,
            # The session's retry (bounded, 429 and 5xx) is the only one: python-gitlab's own would
            # sleep for any Retry-After.
            retry_transient_errors=False,
        )
