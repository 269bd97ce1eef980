"""Building :class:`~bot.adapters.forge.github.adapter.GitHubForge` instances: client options,
token or GitHub App credentials, one cached forge per App installation."""

from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any

import github
from github import Auth, Consts
from github.PaginatedList import PaginatedList
from github.Repository import Repository

from bot.adapters.forge.auth import load_private_key
from bot.adapters.forge.github.adapter import GitHubForge
from bot.adapters.forge.github.errors import translated
from bot.adapters.forge.port import split_full_name
from bot.adapters.forge.retry import BoundedGithubRetry

USER_AGENT = "gitops-bot"


@dataclass(frozen=True)
class ClientOptions:
    api_url: str = Consts.DEFAULT_BASE_URL
    timeout: int = 15
    retries: int = 3
    backoff_factor: float = 0.5
    seconds_between_requests: float = 0.0
    seconds_between_writes: float = 1.0
    secondary_rate_wait: float = 60.0
    max_retry_wait: float = 60.0
    per_page: int = 100
    user_agent: str = USER_AGENT

    def retry(self) -> BoundedGithubRetry:
        return BoundedGithubRetry(
            max_retry_wait=self.max_retry_wait,
            secondary_rate_wait=self.secondary_rate_wait,
            total=self.retries,
            backoff_factor=self.backoff_factor,
            backoff_max=self.max_retry_wait,
        )

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.api_url.rstrip("/"),
            "timeout": self.timeout,
            "user_agent": self.user_agent,
            "per_page": self.per_page,
            "retry": self.retry(),
            "seconds_between_requests": self.seconds_between_requests or None,
            "seconds_between_writes": self.seconds_between_writes or None,
            "lazy": True,
        }


class GitHubForgeFactory:
    """Builds (and caches) :class:`GitHubForge` instances from explicit credentials.

    Token auth: one forge for everything. App auth: one forge per installation id (the id
    comes with each webhook event); PyGithub's ``AppInstallationAuth`` fetches the
    installation token on first use and fetches a new one shortly before it expires.
    """

    def __init__(
        self,
        *,
        api_url: str = Consts.DEFAULT_BASE_URL,
        token: str | None = None,
        app_id: int | str | None = None,
        private_key: str | None = None,
        timeout: int = 15,
        retries: int = 3,
        backoff_factor: float = 0.5,
        seconds_between_requests: float = 0.0,
        seconds_between_writes: float = 1.0,
        secondary_rate_wait: float = 60.0,
        max_retry_wait: float = 60.0,
        mergeable_poll_attempts: int = 5,
        mergeable_poll_interval: float = 1.0,
        user_agent: str = USER_AGENT,
        anonymous: bool = False,
    ) -> None:
        parsed = urllib.parse.urlparse(api_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"the GitHub API URL must be http(s)://host[/api/v3], got {api_url!r}")
        if token and (app_id is not None or private_key):
            raise ValueError("configure either a GitHub token or GitHub App credentials, not both")
        if not token and (app_id is None) != (not private_key):
            raise ValueError("GitHub App auth needs both the App id and its private key")
        if not token and app_id is None and not anonymous:
            raise ValueError("no GitHub credentials: set a token or the GitHub App id and private key")
        if timeout <= 0:
            raise ValueError("the timeout must be a positive number of seconds")
        if seconds_between_writes < 0 or max_retry_wait < 0 or secondary_rate_wait < 0:
            raise ValueError("waits must not be negative")
        self._options = ClientOptions(
            api_url=api_url,
            timeout=int(timeout),
            retries=retries,
            backoff_factor=backoff_factor,
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
            secondary_rate_wait=secondary_rate_wait,
            max_retry_wait=max_retry_wait,
            user_agent=user_agent,
        )
        self._poll = {
            "mergeable_poll_attempts": mergeable_poll_attempts,
            "mergeable_poll_interval": mergeable_poll_interval,
        }
        self._token = token
        self._app_auth = (
            Auth.AppAuth(app_id, load_private_key(private_key))
            if app_id is not None and private_key
            else None
        )
        self._integration: github.GithubIntegration | None = None
        self._forges: dict[int | None, GitHubForge] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> GitHubForgeFactory:
        """From ``bot.settings.Settings`` (its GitHub fields); ``overrides`` win."""
        secret = settings.github_token.get_secret_value() if settings.github_token else None
        key = settings.github_app_private_key.get_secret_value() if settings.github_app_private_key else None
        kwargs: dict[str, Any] = {
            "api_url": settings.github_api_url,
            "timeout": max(1, round(settings.github_timeout_seconds)),
            "seconds_between_writes": settings.github_seconds_between_writes,
            "max_retry_wait": settings.github_max_retry_wait_seconds,
        }
        if secret:
            kwargs["token"] = secret
        elif settings.github_app_id is not None and key:
            kwargs["app_id"] = settings.github_app_id
            kwargs["private_key"] = key
        else:
            # Dry-run without credentials: public reads only; writes are never attempted.
            kwargs["anonymous"] = True
        kwargs.update(overrides)
        return cls(**kwargs)

    @property
    def uses_app(self) -> bool:
        return self._app_auth is not None

    def for_installation(self, installation_id: int | None = None) -> GitHubForge:
        """The forge for an App installation (required with App auth, ignored with a token)."""
        key: int | None
        if self._app_auth is None:
            key = None
        else:
            if installation_id is None:
                raise ValueError(
                    "GitHub App auth needs the installation id (it comes with each GitHub event)"
                )
            key = int(installation_id)
        with self._lock:
            forge = self._forges.get(key)
            if forge is None:
                forge = GitHubForge(self._client_for(key), **self._poll)
                self._forges[key] = forge
            return forge

    def git_token(self, installation_id: int | None = None) -> str | None:
        """The token git should present over HTTPS: the PAT, or a fresh installation token."""
        if self._app_auth is None:
            return self._token
        auth = self.for_installation(installation_id).client.requester.auth
        with translated():
            return auth.token if auth is not None else None

    def installation_id_for(self, repo: str) -> int:
        """The App installation that covers ``repo`` (for events that carry no installation)."""
        owner, name = split_full_name(repo)
        with translated():
            return self._app_integration().get_repo_installation(owner, name).id

    def installation_repositories(self, installation_id: int) -> tuple[str, ...]:
        """Full names of the repositories an App installation can reach."""
        forge = self.for_installation(installation_id)
        with translated():
            listing = PaginatedList(
                Repository,
                forge.client.requester,
                "/installation/repositories",
                None,
                list_item="repositories",
            )
            return tuple(repository.full_name for repository in listing)

    def close(self) -> None:
        with self._lock:
            for forge in self._forges.values():
                forge.close()
            self._forges.clear()
            if self._integration is not None:
                self._integration.close()
                self._integration = None

    def _app_integration(self) -> github.GithubIntegration:
        if self._app_auth is None:
            raise ValueError("this needs GitHub App credentials")
        with self._lock:
            if self._integration is None:
                self._integration = github.GithubIntegration(
                    auth=self._app_auth, **self._options.client_kwargs()
                )
            return self._integration

    def _client_for(self, installation_id: int | None) -> github.Github:
        kwargs = self._options.client_kwargs()
        if installation_id is None:
            if self._token is None:
                return github.Github(**kwargs)  # anonymous
            return github.Github(auth=Auth.Token(self._token), **kwargs)
        assert self._app_auth is not None
        # The client's requester hands itself to the installation auth, which then fetches
        # installation tokens with the same base URL, timeout and retry policy, as the App.
        return github.Github(auth=self._app_auth.get_installation_auth(installation_id), **kwargs)
