"""The forge port: what the domain asks of GitHub (or any other forge), in forge-neutral terms.

Repositories are named ``"owner/name"``. Every method is blocking (the GitHub adapter talks
HTTP through PyGithub): async callers run them in a worker thread (``asyncio.to_thread``).
Failures raise :class:`ForgeError` or one of its subclasses, never a library exception, so
the domain never imports a forge client library.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.config.permissions import LEVELS

# GitHub's limits; the adapter checks them before sending so the error names the field. A forge
# with another limit says so in its ``max_comment_length`` attribute (GitLab: 1,000,000).
MAX_COMMENT_LENGTH = 65_536
MAX_STATUS_DESCRIPTION_LENGTH = 140

PERMISSION_LEVELS = LEVELS  # declared once, beside the permission rules


class ForgeError(Exception):
    """A forge call failed. ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ForgeNotFound(ForgeError):
    """The repository, pull request, comment or ref does not exist (or is not visible to us)."""


class ForgeAuthError(ForgeError):
    """The credentials were refused (401) or lack a permission (403 that is not a rate limit)."""


class ForgeValidationError(ForgeError):
    """The forge refused the request's content (GitHub's 422 "Validation Failed")."""


class ForgeRateLimited(ForgeError):
    """A rate limit asked for a longer wait than the adapter is allowed to block a worker.

    ``retry_after`` is the wait the forge asked for, in seconds, when it said: the job queue
    should retry the job no earlier than that.
    """

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ForgeUnavailable(ForgeError):
    """The forge kept failing (5xx, timeouts, connection errors) after the adapter's retries."""


class MergeMethod(StrEnum):
    MERGE = "merge"
    SQUASH = "squash"
    REBASE = "rebase"


class CommitState(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


class ChangeOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class MergeRefusal(StrEnum):
    HEAD_MOVED = "head_moved"  # the head branch is not at the expected sha any more
    NOT_MERGEABLE = "not_mergeable"  # conflicts, failing required checks, missing reviews...
    ALREADY_MERGED = "already_merged"
    CLOSED = "closed"
    METHOD_NOT_ALLOWED = "method_not_allowed"  # e.g. squash merges disabled on the repository


class ReviewState(StrEnum):
    APPROVED = "APPROVED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    COMMENTED = "COMMENTED"
    DISMISSED = "DISMISSED"
    PENDING = "PENDING"


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    body: str
    state: str  # "open" | "closed"
    merged: bool
    draft: bool
    author: str
    head_ref: str
    head_sha: str
    # None when the head repository was deleted (a fork that no longer exists).
    head_repo: str | None
    base_ref: str
    base_sha: str
    base_repo: str
    is_fork: bool
    # None while the forge is still computing it (and always for closed PRs and list results).
    mergeable: bool | None
    # GitHub's words: clean, dirty, blocked, behind, unstable, has_hooks, draft, unknown.
    mergeable_state: str
    merge_commit_sha: str | None
    html_url: str
    labels: tuple[str, ...] = ()
    requested_reviewers: tuple[str, ...] = ()
    requested_teams: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.state == "open"


@dataclass(frozen=True)
class PullRequestSpec:
    """What an update PR should look like; ``open_or_update_pull_request`` makes it so.

    ``reviewers`` are logins, or ``team:<slug>`` for a team of the repository's organisation.
    Labels and reviewers are only ever added: ones a human added by hand stay.
    """

    head: str
    base: str
    title: str
    body: str
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    draft: bool = False

    def __post_init__(self) -> None:
        if not self.head or not self.base:
            raise ValueError("a pull request needs both a head and a base branch")
        if not self.title.strip():
            raise ValueError("a pull request needs a title")
        if len(self.body) > MAX_COMMENT_LENGTH:
            raise ValueError(f"a pull request body may have at most {MAX_COMMENT_LENGTH} characters")


@dataclass(frozen=True)
class PullRequestChange:
    pull_request: PullRequest
    outcome: ChangeOutcome


@dataclass(frozen=True)
class ChangedFile:
    filename: str
    # added, removed, modified, renamed, copied, changed, unchanged
    status: str
    previous_filename: str | None = None


@dataclass(frozen=True)
class MergeResult:
    merged: bool
    sha: str | None = None  # the merge (or squash/rebase) commit on the base branch
    refusal: MergeRefusal | None = None
    message: str = ""


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    html_url: str
    author: str


@dataclass(frozen=True)
class Issue:
    """An issue (never a pull request, though GitHub lists those among issues too)."""

    number: int
    title: str
    body: str
    state: str  # "open" | "closed"
    html_url: str


@dataclass(frozen=True)
class IssueSpec:
    """What the bot's issue should say; ``open_or_update_issue`` makes it so, one per title."""

    title: str
    body: str

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("an issue needs a title")
        if len(self.body) > MAX_COMMENT_LENGTH:
            raise ValueError(f"an issue body may have at most {MAX_COMMENT_LENGTH} characters")


@dataclass(frozen=True)
class IssueChange:
    issue: Issue
    outcome: ChangeOutcome


@dataclass(frozen=True)
class CommitStatus:
    state: CommitState
    context: str
    description: str = ""
    target_url: str | None = None


@dataclass(frozen=True)
class Review:
    user: str
    state: ReviewState | str
    commit_id: str | None = None
    submitted_at: str | None = None


@dataclass(frozen=True)
class ReviewSummary:
    """Each reviewer's standing verdict; the PR author's own reviews never count."""

    author: str
    approved_by: tuple[str, ...] = ()
    changes_requested_by: tuple[str, ...] = ()
    reviews: tuple[Review, ...] = field(default=(), repr=False)

    @property
    def approved(self) -> bool:
        """Approved by at least one person other than the author."""
        return bool(self.approved_by)


def summarize_reviews(reviews: Iterable[Review], *, author: str) -> ReviewSummary:
    """GitHub's rule: a reviewer's latest APPROVED / CHANGES_REQUESTED / DISMISSED review is
    their verdict (a DISMISSED one withdraws it); COMMENTED and PENDING reviews change nothing.

    ``reviews`` must be in submission order, as the REST API lists them.
    """
    ordered = tuple(reviews)
    verdicts: dict[str, tuple[str, str]] = {}  # lowercased login -> (login, state)
    for review in ordered:
        state = str(review.state).upper()
        key = review.user.lower()
        if state in (ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED):
            verdicts[key] = (review.user, state)
        elif state == ReviewState.DISMISSED:
            verdicts.pop(key, None)
    author_key = author.lower()
    approved = tuple(
        sorted(login for key, (login, state) in verdicts.items() if state == "APPROVED" and key != author_key)
    )
    changes = tuple(
        sorted(
            login
            for key, (login, state) in verdicts.items()
            if state == "CHANGES_REQUESTED" and key != author_key
        )
    )
    return ReviewSummary(author=author, approved_by=approved, changes_requested_by=changes, reviews=ordered)


def normalise_permission(role_name: str | None, permission: str | None) -> str:
    """The level from GitHub's permission answer: ``role_name`` knows maintain and triage,
    the legacy ``permission`` field only admin/write/read/none. A custom repository role
    falls back to the legacy field, the base level it was built on."""
    for candidate in (role_name, permission):
        if candidate and candidate.lower() in PERMISSION_LEVELS:
            return candidate.lower()
    return "none"


@runtime_checkable
class Forge(Protocol):
    """What the domain may ask of a forge. Blocking; see the module docstring."""

    def default_branch(self, repo: str) -> str: ...

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        """The file's bytes at ``ref`` (branch, tag or sha); None when there is no such file."""
        ...

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        """Waits briefly while the forge is still computing mergeability."""
        ...

    def list_changed_files(self, repo: str, number: int) -> tuple[ChangedFile, ...]: ...

    def list_open_pull_requests(self, repo: str, *, head_prefix: str = "") -> tuple[PullRequest, ...]:
        """Open PRs whose head branch (in this repository, not a fork) starts with ``head_prefix``."""
        ...

    def open_or_update_pull_request(self, repo: str, spec: PullRequestSpec) -> PullRequestChange:
        """Idempotent by head branch: creates the PR, or brings the open one up to ``spec``."""
        ...

    def close_pull_request(self, repo: str, number: int, *, comment: str | None = None) -> None: ...

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
        """Merges only if the head is still ``expected_head_sha``; refusals are results, not errors."""
        ...

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        """``body`` must fit GitHub's limit: split long output with ``bot.adapters.forge.comments``."""
        ...

    def edit_comment(self, repo: str, comment_id: int, body: str, *, number: int | None = None) -> Comment:
        """``number``: the pull request the comment is on (GitLab's notes are addressed through it)."""
        ...

    def add_reaction(
        self, repo: str, comment_id: int, reaction: str = "eyes", *, number: int | None = None
    ) -> None:
        """``number`` as for :meth:`edit_comment`; ``eyes`` is GitLab's award emoji ``eyes`` too."""
        ...

    def set_commit_status(self, repo: str, sha: str, status: CommitStatus) -> None: ...

    def find_open_issue(self, repo: str, title: str) -> Issue | None:
        """The open issue (not pull request) titled exactly ``title``, the oldest when several."""
        ...

    def open_or_update_issue(self, repo: str, spec: IssueSpec) -> IssueChange:
        """Idempotent by title: opens the issue, or brings the open one's body up to ``spec``."""
        ...

    def close_issue(self, repo: str, number: int, *, body: str | None = None) -> None:
        """Closes the issue, replacing its body first when ``body`` is given (one request)."""
        ...

    def list_reviews(self, repo: str, number: int) -> tuple[Review, ...]: ...

    def review_summary(self, repo: str, number: int) -> ReviewSummary: ...

    def permission_level(self, repo: str, login: str) -> str:
        """One of ``PERMISSION_LEVELS``; "none" for an unknown user."""
        ...

    def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        """An active (not pending) member of the team."""
        ...


def split_full_name(repo: str) -> tuple[str, str]:
    owner, sep, name = repo.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"repository must be named 'owner/name', got {repo!r}")
    return owner, name


def reviewer_targets(reviewers: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split configured reviewers into (user logins, team slugs); ``team:<slug>`` names a team."""
    users: list[str] = []
    teams: list[str] = []
    for entry in reviewers:
        value = entry.strip()
        if not value:
            continue
        if value.lower().startswith("team:"):
            slug = value[5:].strip()
            # "org/slug" is accepted too; the REST API wants only the slug.
            teams.append(slug.rsplit("/", 1)[-1])
        else:
            users.append(value.lstrip("@"))
    return tuple(users), tuple(teams)
