"""The forge port on GitHub (and GitHub Enterprise), through PyGithub.

PyGithub is blocking: every method here does HTTP on the calling thread, so async code calls
them through ``asyncio.to_thread`` (workers already run jobs in threads). One
:class:`GitHubForge` is safe to share between threads; the factory caches one per App
installation so connection pools and installation tokens are reused.

Requests go through a lazy ``Github`` client (objects are not fetched until an attribute
needs it), with :class:`~bot.adapters.forge.retry.BoundedGithubRetry`, an explicit timeout and
PyGithub's write throttle (``seconds_between_writes``, 1 s by default as GitHub advises for
content-creating requests).
"""

from __future__ import annotations

import base64
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import github
import requests
import structlog
from github import Auth, Consts
from github.GithubException import (
    BadCredentialsException,
    GithubException,
    RateLimitExceededExceedsMaxWait,
    RateLimitExceededException,
    UnknownObjectException,
)
from github.PaginatedList import PaginatedList
from github.Repository import Repository

from bot.adapters.forge.auth import load_private_key
from bot.adapters.forge.comments import comment_length
from bot.adapters.forge.port import (
    MAX_COMMENT_LENGTH,
    MAX_STATUS_DESCRIPTION_LENGTH,
    ChangedFile,
    ChangeOutcome,
    Comment,
    CommitStatus,
    ForgeAuthError,
    ForgeError,
    ForgeNotFound,
    ForgeRateLimited,
    ForgeUnavailable,
    ForgeValidationError,
    MergeMethod,
    MergeRefusal,
    MergeResult,
    PullRequest,
    PullRequestChange,
    PullRequestSpec,
    Review,
    ReviewSummary,
    normalise_permission,
    reviewer_targets,
    split_full_name,
    summarize_reviews,
)
from bot.adapters.forge.retry import BoundedGithubRetry

log = structlog.get_logger("gitops_bot.forge")

USER_AGENT = "gitops-bot"
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
_RETRY_STATUS = re.compile(r"too many (\d{3}) error responses")


def _error_message(error: GithubException) -> str:
    data = error.data if isinstance(error.data, dict) else {}
    message = str(data.get("message") or error.message or f"HTTP {error.status}")
    details = []
    for item in data.get("errors") or ():
        if isinstance(item, dict):
            details.append(str(item.get("message") or f"{item.get('field')} {item.get('code')}".strip()))
        else:
            details.append(str(item))
    return f"{message}: {'; '.join(details)}" if details else message


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    lowered = {str(key).lower(): value for key, value in dict(headers).items()}
    value = lowered.get("retry-after")
    if value is not None and str(value).strip().isdigit():
        return float(value)
    reset = lowered.get("x-ratelimit-reset")
    if reset is not None and str(reset).strip().isdigit():
        return max(float(reset) - time.time(), 0.0)
    return None


def translate(error: Exception) -> ForgeError:
    """A PyGithub or requests exception as the port's error type."""
    if isinstance(error, RateLimitExceededExceedsMaxWait):
        return ForgeRateLimited(_error_message(error), status=error.status, retry_after=error.wait)
    if isinstance(error, RateLimitExceededException):
        return ForgeRateLimited(
            _error_message(error), status=error.status, retry_after=_retry_after(error.headers)
        )
    if isinstance(error, UnknownObjectException):
        return ForgeNotFound(_error_message(error), status=error.status)
    if isinstance(error, BadCredentialsException):
        return ForgeAuthError(_error_message(error), status=error.status)
    if isinstance(error, GithubException):
        message = _error_message(error)
        if error.status == 404:
            return ForgeNotFound(message, status=404)
        if error.status in (401, 403):
            return ForgeAuthError(message, status=error.status)
        if error.status == 422:
            return ForgeValidationError(message, status=422)
        if error.status == 429:
            return ForgeRateLimited(message, status=429, retry_after=_retry_after(error.headers))
        if error.status >= 500:
            return ForgeUnavailable(message, status=error.status)
        return ForgeError(message, status=error.status)
    if isinstance(error, requests.exceptions.RetryError):
        match = _RETRY_STATUS.search(str(error))
        status = int(match.group(1)) if match else None
        if status in (403, 429):
            return ForgeRateLimited(f"still rate limited after retries ({status})", status=status)
        return ForgeUnavailable(f"GitHub kept failing after retries: {error}", status=status)
    if isinstance(error, requests.exceptions.RequestException):
        return ForgeUnavailable(f"cannot reach GitHub: {error}")
    return ForgeError(str(error))


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except ForgeError:
        raise
    except (GithubException, requests.exceptions.RequestException) as error:
        raise translate(error) from error


def _login(user: Any) -> str:
    # A deleted account shows up as null ("ghost" on github.com).
    return user.login if user is not None else "ghost"


def _pull_request(pr: Any, repo: str, *, full: bool) -> PullRequest:
    """Convert a PyGithub PullRequest. List results lack mergeability: ``full=False`` never
    touches those attributes (touching them would fetch every PR again)."""
    head_repo = pr.head.repo.full_name if pr.head.repo is not None else None
    base_repo = pr.base.repo.full_name if pr.base.repo is not None else repo
    merged = pr.merged if full else pr.merged_at is not None
    return PullRequest(
        number=pr.number,
        title=pr.title or "",
        body=pr.body or "",
        state=pr.state,
        merged=bool(merged),
        draft=bool(pr.draft),
        author=_login(pr.user),
        head_ref=pr.head.ref,
        head_sha=pr.head.sha,
        head_repo=head_repo,
        base_ref=pr.base.ref,
        base_sha=pr.base.sha,
        base_repo=base_repo,
        is_fork=head_repo is None or head_repo.lower() != base_repo.lower(),
        mergeable=pr.mergeable if full else None,
        mergeable_state=(pr.mergeable_state or "unknown") if full else "unknown",
        merge_commit_sha=pr.merge_commit_sha or None,
        html_url=pr.html_url,
        labels=tuple(label.name for label in pr.labels),
        requested_reviewers=tuple(user.login for user in pr.requested_reviewers or ()),
        requested_teams=tuple(team.slug for team in pr.requested_teams or ()),
    )


def _comment(comment: Any) -> Comment:
    return Comment(
        id=comment.id, body=comment.body or "", html_url=comment.html_url, author=_login(comment.user)
    )


class GitHubForge:
    """The :class:`~bot.adapters.forge.port.Forge` port over one authenticated PyGithub client."""

    def __init__(
        self,
        client: github.Github,
        *,
        mergeable_poll_attempts: int = 5,
        mergeable_poll_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._poll_attempts = max(1, mergeable_poll_attempts)
        self._poll_interval = mergeable_poll_interval
        self._sleep = sleep

    @property
    def client(self) -> github.Github:
        return self._client

    def close(self) -> None:
        self._client.close()

    # -- helpers -------------------------------------------------------------------------------

    def _repo(self, repo: str) -> Any:
        split_full_name(repo)
        return self._client.get_repo(repo)

    def _request(self, verb: str, url: str, **kwargs: Any) -> tuple[dict[str, Any], Any]:
        return self._client.requester.requestJsonAndCheck(verb, url, **kwargs)

    def _find_open(self, repo: str, head: str) -> Any | None:
        owner, _ = split_full_name(repo)
        for pr in self._repo(repo).get_pulls(state="open", head=f"{owner}:{head}"):
            if pr.head.ref == head:
                return pr
        return None

    # -- reading -------------------------------------------------------------------------------

    def default_branch(self, repo: str) -> str:
        with _translated():
            return self._repo(repo).default_branch

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        clean = path.strip("/")
        if not clean:
            raise ValueError("read_file needs the path of a file, not the repository root")
        with _translated():
            repository = self._repo(repo)
            try:
                content = repository.get_contents(clean, ref=ref)
            except GithubException as error:
                # A missing file and a missing ref are both 404 ("Not Found", "No commit found").
                if error.status == 404:
                    return None
                raise
            if isinstance(content, list):
                raise ForgeValidationError(f"{clean} at {ref} in {repo} is a directory, not a file")
            if content.type != "file":
                raise ForgeValidationError(f"{clean} at {ref} in {repo} is a {content.type}, not a file")
            if content.encoding == "base64":
                return base64.b64decode(content.content or "")
            # Files over 1 MB come without content ("encoding": "none"): fetch the blob.
            blob = repository.get_git_blob(content.sha)
            return base64.b64decode(blob.content or "")

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        with _translated():
            repository = self._repo(repo)
            for attempt in range(self._poll_attempts):
                pr = repository.get_pull(number)
                # GitHub computes mergeability in the background and answers null meanwhile.
                if pr.state != "open" or pr.mergeable is not None or attempt == self._poll_attempts - 1:
                    return _pull_request(pr, repo, full=True)
                self._sleep(self._poll_interval)
        raise AssertionError("unreachable")  # pragma: no cover

    def list_changed_files(self, repo: str, number: int) -> tuple[ChangedFile, ...]:
        with _translated():
            files = self._repo(repo).get_pull(number).get_files()
            return tuple(
                ChangedFile(
                    filename=item.filename,
                    status=item.status,
                    previous_filename=item.previous_filename or None,
                )
                for item in files
            )

    def list_open_pull_requests(self, repo: str, *, head_prefix: str = "") -> tuple[PullRequest, ...]:
        with _translated():
            found = []
            for pr in self._repo(repo).get_pulls(state="open", sort="created", direction="asc"):
                converted = _pull_request(pr, repo, full=False)
                if not converted.is_fork and converted.head_ref.startswith(head_prefix):
                    found.append(converted)
            return tuple(found)

    def list_reviews(self, repo: str, number: int) -> tuple[Review, ...]:
        with _translated():
            reviews = self._repo(repo).get_pull(number).get_reviews()
            return tuple(
                Review(
                    user=_login(review.user),
                    state=review.state,
                    commit_id=review.commit_id,
                    submitted_at=review.submitted_at.isoformat() if review.submitted_at else None,
                )
                for review in reviews
            )

    def review_summary(self, repo: str, number: int) -> ReviewSummary:
        with _translated():
            author = _login(self._repo(repo).get_pull(number).user)
        return summarize_reviews(self.list_reviews(repo, number), author=author)

    def permission_level(self, repo: str, login: str) -> str:
        owner, name = split_full_name(repo)
        quoted = urllib.parse.quote(login, safe="")
        with _translated():
            try:
                _, data = self._request("GET", f"/repos/{owner}/{name}/collaborators/{quoted}/permission")
            except GithubException as error:
                if error.status == 404:  # no such user
                    return "none"
                raise
        return normalise_permission(data.get("role_name"), data.get("permission"))

    def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        path = "/orgs/{}/teams/{}/memberships/{}".format(
            *(urllib.parse.quote(part, safe="") for part in (org, team_slug, login))
        )
        with _translated():
            try:
                _, data = self._request("GET", path)
            except GithubException as error:
                if error.status == 404:  # not a member, or no such team
                    return False
                raise
        return data.get("state") == "active"

    # -- writing -------------------------------------------------------------------------------

    def open_or_update_pull_request(self, repo: str, spec: PullRequestSpec) -> PullRequestChange:
        with _translated():
            repository = self._repo(repo)
            existing = self._find_open(repo, spec.head)
            if existing is None:
                try:
                    created = repository.create_pull(
                        base=spec.base, head=spec.head, title=spec.title, body=spec.body, draft=spec.draft
                    )
                except GithubException as error:
                    # Another worker opened it between our look-up and our create.
                    if error.status != 422 or "already exists" not in _error_message(error):
                        raise
                    existing = self._find_open(repo, spec.head)
                    if existing is None:
                        raise
                else:
                    self._add_labels_and_reviewers(repo, created, spec, reviewed=frozenset())
                    return PullRequestChange(
                        self.get_pull_request(repo, created.number), ChangeOutcome.CREATED
                    )
            changed = self._bring_up_to_date(repo, existing, spec)
            outcome = ChangeOutcome.UPDATED if changed else ChangeOutcome.UNCHANGED
            if not changed:
                return PullRequestChange(_pull_request(existing, repo, full=False), outcome)
            return PullRequestChange(self.get_pull_request(repo, existing.number), outcome)

    def _bring_up_to_date(self, repo: str, pr: Any, spec: PullRequestSpec) -> bool:
        edits: dict[str, str] = {}
        if (pr.title or "") != spec.title:
            edits["title"] = spec.title
        if (pr.body or "") != spec.body:
            edits["body"] = spec.body
        if pr.base.ref != spec.base:
            edits["base"] = spec.base
        if edits:
            pr.edit(**edits)
        users, _ = reviewer_targets(spec.reviewers)
        reviewed: frozenset[str] = frozenset()
        requested = {user.login.lower() for user in pr.requested_reviewers or ()}
        if any(user.lower() not in requested for user in users):
            reviewed = frozenset(_login(review.user).lower() for review in pr.get_reviews())
        added = self._add_labels_and_reviewers(repo, pr, spec, reviewed=reviewed)
        return bool(edits) or added

    def _add_labels_and_reviewers(
        self, repo: str, pr: Any, spec: PullRequestSpec, *, reviewed: frozenset[str]
    ) -> bool:
        changed = False
        present = {label.name.lower() for label in pr.labels}
        missing_labels = [label for label in spec.labels if label.lower() not in present]
        if missing_labels:
            pr.add_to_labels(*missing_labels)
            changed = True
        users, teams = reviewer_targets(spec.reviewers)
        author = _login(pr.user).lower()
        requested_users = {user.login.lower() for user in pr.requested_reviewers or ()}
        requested_teams = {team.slug.lower() for team in pr.requested_teams or ()}
        # Never re-request someone who already reviewed (that would ask them again) or the author
        # (GitHub refuses that).
        missing_users = [
            user
            for user in users
            if user.lower() not in requested_users and user.lower() not in reviewed and user.lower() != author
        ]
        missing_teams = [team for team in teams if team.lower() not in requested_teams]
        if missing_users or missing_teams:
            try:
                pr.create_review_request(reviewers=missing_users, team_reviewers=missing_teams)
                changed = True
            except GithubException as error:
                if error.status != 422:
                    raise
                # Reviewers who are not collaborators must not fail the update itself.
                log.warning(
                    "forge.review_request_refused",
                    repo=repo,
                    number=pr.number,
                    reviewers=missing_users,
                    teams=missing_teams,
                    reason=_error_message(error),
                )
        return changed

    def close_pull_request(self, repo: str, number: int, *, comment: str | None = None) -> None:
        if comment:
            self.create_comment(repo, number, comment)
        with _translated():
            self._repo(repo).get_pull(number).edit(state="closed")

    def merge_pull_request(
        self,
        repo: str,
        number: int,
        *,
        expected_head_sha: str,
        method: MergeMethod = MergeMethod.MERGE,
        commit_title: str | None = None,
        commit_message: str | None = None,
    ) -> MergeResult:
        if not expected_head_sha:
            raise ValueError("merging needs the head sha the decision was made on")
        options: dict[str, str] = {"merge_method": MergeMethod(method).value, "sha": expected_head_sha}
        if commit_title is not None:
            options["commit_title"] = commit_title
        if commit_message is not None:
            options["commit_message"] = commit_message
        with _translated():
            pr = self._repo(repo).get_pull(number)
            try:
                status = pr.merge(**options)
            except GithubException as error:
                return self._merge_refusal(repo, number, expected_head_sha, error)
            return MergeResult(merged=bool(status.merged), sha=status.sha, message=status.message or "")

    def _merge_refusal(self, repo: str, number: int, expected: str, error: GithubException) -> MergeResult:
        message = _error_message(error)
        if error.status == 409:
            return MergeResult(merged=False, refusal=MergeRefusal.HEAD_MOVED, message=message)
        if error.status == 405:
            current = self.get_pull_request(repo, number)
            if current.merged:
                # A retried PUT whose first attempt did merge: same head, so it is our merge.
                if current.head_sha == expected:
                    return MergeResult(merged=True, sha=current.merge_commit_sha, message=message)
                return MergeResult(merged=False, refusal=MergeRefusal.ALREADY_MERGED, message=message)
            if not current.is_open:
                return MergeResult(merged=False, refusal=MergeRefusal.CLOSED, message=message)
            if current.head_sha != expected:
                return MergeResult(merged=False, refusal=MergeRefusal.HEAD_MOVED, message=message)
            refusal = MergeRefusal.METHOD_NOT_ALLOWED if "not allowed" in message.lower() else None
            return MergeResult(merged=False, refusal=refusal or MergeRefusal.NOT_MERGEABLE, message=message)
        if error.status == 422 and "merge" in message.lower() and "allowed" in message.lower():
            return MergeResult(merged=False, refusal=MergeRefusal.METHOD_NOT_ALLOWED, message=message)
        raise error

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        self._check_body(body)
        with _translated():
            return _comment(self._repo(repo).get_issue(number).create_comment(body))

    def edit_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        self._check_body(body)
        with _translated():
            comment = self._issue_comment(repo, comment_id)
            comment.edit(body)
            return _comment(comment)

    def add_reaction(self, repo: str, comment_id: int, reaction: str = "eyes") -> None:
        if reaction not in REACTIONS:
            raise ValueError(f"unknown reaction {reaction!r}; GitHub knows {', '.join(sorted(REACTIONS))}")
        with _translated():
            self._issue_comment(repo, comment_id).create_reaction(reaction)

    def set_commit_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        owner, name = split_full_name(repo)
        description = status.description
        if len(description) > MAX_STATUS_DESCRIPTION_LENGTH:
            description = description[: MAX_STATUS_DESCRIPTION_LENGTH - 1] + "…"
        payload: dict[str, str] = {"state": str(status.state), "context": status.context}
        if description:
            payload["description"] = description
        if status.target_url:
            payload["target_url"] = status.target_url
        with _translated():
            self._request("POST", f"/repos/{owner}/{name}/statuses/{urllib.parse.quote(sha)}", input=payload)

    def _issue_comment(self, repo: str, comment_id: int) -> Any:
        owner, name = split_full_name(repo)
        # Lazy: built from its URL, fetched only if an attribute is read before a write.
        return github.IssueComment.IssueComment(
            self._client.requester, url=f"/repos/{owner}/{name}/issues/comments/{int(comment_id)}"
        )

    @staticmethod
    def _check_body(body: str) -> None:
        if not body:
            raise ValueError("a comment needs a body")
        if comment_length(body) > MAX_COMMENT_LENGTH:
            raise ValueError(
                f"a comment may have at most {MAX_COMMENT_LENGTH} characters; "
                "split it with bot.adapters.forge.comments.split_comment"
            )


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
        with _translated():
            return auth.token if auth is not None else None

    def installation_id_for(self, repo: str) -> int:
        """The App installation that covers ``repo`` (for events that carry no installation)."""
        owner, name = split_full_name(repo)
        with _translated():
            return self._app_integration().get_repo_installation(owner, name).id

    def installation_repositories(self, installation_id: int) -> tuple[str, ...]:
        """Full names of the repositories an App installation can reach."""
        forge = self.for_installation(installation_id)
        with _translated():
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
