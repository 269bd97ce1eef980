"""An in-memory forge for handler unit tests, in the manner of python/bedevere's ``FakeGH``.

``FakeForge`` implements every method of the ``Forge`` port (``bot.adapters.forge.port``) over
plain dictionaries: tests seed files per ref, pull requests, changed files, reviews, permission
levels and team members, run a handler, then assert on ``calls`` (every call, reads included,
in order) and on what the writes left behind (``comments``, ``reactions``, ``statuses``...).
It answers as the GitHub adapter does where the domain depends on it: ``None`` for a missing
file, ``ForgeNotFound`` for a missing pull request or comment, merge refusals as results, the
comment and status length limits as ``ForgeValidationError``.

``FakeForgeFactory`` stands where ``Services`` keeps its GitHub factory, so a handler asking
``services.forge(...)`` or ``services.forge_for_repo(...)`` gets the fake (wrapped in the
dry-run guard when the bot runs in dry-run): ``install_fake_forge(services)`` wires both.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

from bot.adapters.forge.port import (
    MAX_COMMENT_LENGTH,
    MAX_STATUS_DESCRIPTION_LENGTH,
    PERMISSION_LEVELS,
    ChangedFile,
    ChangeOutcome,
    Comment,
    CommitStatus,
    ForgeError,
    ForgeNotFound,
    ForgeValidationError,
    Issue,
    IssueChange,
    IssueSpec,
    MergeMethod,
    MergeRefusal,
    MergeResult,
    PullRequest,
    PullRequestChange,
    PullRequestSpec,
    Review,
    ReviewSummary,
    reviewer_targets,
    summarize_reviews,
)

if TYPE_CHECKING:
    from bot.services import Services

# The port's methods that change something on the forge: the dry-run guard refuses these.
WRITE_METHODS = frozenset(
    {
        "open_or_update_pull_request",
        "close_pull_request",
        "merge_pull_request",
        "create_comment",
        "edit_comment",
        "add_reaction",
        "set_commit_status",
    }
)
DEFAULT_HEAD_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
DEFAULT_BASE_SHA = "9049f1265b7d61be4a8904a9a27120d2064dab3b"


@dataclass(frozen=True)
class ForgeCall:
    """One call to the fake: the method's name and its arguments by parameter name."""

    method: str
    arguments: Mapping[str, Any]

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    def __getitem__(self, name: str) -> Any:
        return self.arguments[name]


@dataclass(frozen=True)
class Reaction:
    repo: str
    comment_id: int
    reaction: str


@dataclass(frozen=True)
class PostedComment:
    """A comment the fake holds: on a pull request (``number``) with its current body."""

    repo: str
    number: int
    comment: Comment

    @property
    def body(self) -> str:
        return self.comment.body


@dataclass(frozen=True)
class SetStatus:
    repo: str
    sha: str
    status: CommitStatus


def _sha_for(seed: int) -> str:
    return f"{seed:040x}"


@dataclass
class FakeForge:
    """Every ``Forge`` method over seeded, in-memory state; ``calls`` records each call."""

    login: str = "gitops-bot"
    default_branches: dict[str, str] = field(default_factory=dict)
    files: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)  # (repo, ref) → path → bytes
    pull_requests: dict[tuple[str, int], PullRequest] = field(default_factory=dict)
    changed_files: dict[tuple[str, int], tuple[ChangedFile, ...]] = field(default_factory=dict)
    reviews: dict[tuple[str, int], list[Review]] = field(default_factory=dict)
    permissions: dict[tuple[str, str], str] = field(default_factory=dict)  # (repo, login lowercased) → level
    teams: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (org, slug) → logins lowercased
    comments: list[PostedComment] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    statuses: list[SetStatus] = field(default_factory=list)
    issues: dict[tuple[str, int], Issue] = field(default_factory=dict)  # plain issues, never PRs
    calls: list[ForgeCall] = field(default_factory=list)
    # method → the error its next call raises (one-shot), for the forge-failure branches.
    failures: dict[str, ForgeError] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9_000_001), repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- seeding ---------------------------------------------------------------------------

    def add_repo(
        self, repo: str, files: Mapping[str, str | bytes] | None = None, *, default_branch: str = "main"
    ) -> None:
        """A repository whose default branch holds ``files`` (text is stored as UTF-8)."""
        self.default_branches[repo] = default_branch
        self.add_files(repo, files or {}, ref=default_branch)

    def add_files(self, repo: str, files: Mapping[str, str | bytes], *, ref: str = "main") -> None:
        stored = self.files.setdefault((repo, ref), {})
        for path, content in dict(files).items():
            stored[path] = content.encode() if isinstance(content, str) else content

    def add_pull_request(
        self,
        repo: str,
        number: int,
        *,
        changed: Iterable[str] = (),
        **fields: Any,
    ) -> PullRequest:
        """An open, mergeable pull request from a branch of ``repo``; ``fields`` override any field."""
        owner = repo.split("/", 1)[0]
        values: dict[str, Any] = {
            "number": number,
            "title": f"Pull request #{number}",
            "body": "",
            "state": "open",
            "merged": False,
            "draft": False,
            "author": "alice",
            "head_ref": f"feature-{number}",
            "head_sha": DEFAULT_HEAD_SHA,
            "head_repo": repo,
            "base_ref": self.default_branches.get(repo, "main"),
            "base_sha": DEFAULT_BASE_SHA,
            "base_repo": repo,
            "is_fork": False,
            "mergeable": True,
            "mergeable_state": "clean",
            "merge_commit_sha": None,
            "html_url": f"https://github.com/{repo}/pull/{number}",
        }
        values.update(fields)
        if values["is_fork"] and values["head_repo"] == repo:
            values["head_repo"] = f"{owner}-fork/{repo.split('/', 1)[1]}"
        pr = PullRequest(**values)
        self.pull_requests[(repo, number)] = pr
        if changed:
            self.set_changed_files(repo, number, changed)
        return pr

    def set_changed_files(
        self, repo: str, number: int, paths: Iterable[str], *, status: str = "modified"
    ) -> None:
        self.changed_files[(repo, number)] = tuple(ChangedFile(path, status) for path in paths)

    def add_review(
        self, repo: str, number: int, user: str, state: str, *, commit_id: str | None = None
    ) -> None:
        self.reviews.setdefault((repo, number), []).append(
            Review(user=user, state=state, commit_id=commit_id)
        )

    def set_permission(self, repo: str, login: str, level: str) -> None:
        if level not in PERMISSION_LEVELS:
            raise ValueError(f"{level!r} is not one of {PERMISSION_LEVELS}")
        self.permissions[(repo, login.lower())] = level

    def add_team_member(self, org: str, slug: str, login: str) -> None:
        self.teams.setdefault((org.lower(), slug.lower()), set()).add(login.lower())

    def fail_next(self, method: str, error: ForgeError) -> None:
        """The next call of ``method`` raises ``error`` (and is still recorded)."""
        self.failures[method] = error

    # -- what the tests read ---------------------------------------------------------------

    def calls_to(self, method: str) -> list[ForgeCall]:
        return [call for call in self.calls if call.method == method]

    @property
    def writes(self) -> list[ForgeCall]:
        return [call for call in self.calls if call.is_write]

    def comment_bodies(self, repo: str | None = None, number: int | None = None) -> list[str]:
        """Current bodies of the comments on a pull request (all of them by default), oldest first."""
        return [
            posted.body
            for posted in self.comments
            if (repo is None or posted.repo == repo) and (number is None or posted.number == number)
        ]

    # -- the Forge port: reads -------------------------------------------------------------

    def default_branch(self, repo: str) -> str:
        self._record("default_branch", repo=repo)
        return self.default_branches.get(repo, "main")

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        self._record("read_file", repo=repo, path=path, ref=ref)
        return self.files.get((repo, ref), {}).get(path)

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        self._record("get_pull_request", repo=repo, number=number)
        return self._pull_request(repo, number)

    def list_changed_files(self, repo: str, number: int) -> tuple[ChangedFile, ...]:
        self._record("list_changed_files", repo=repo, number=number)
        self._pull_request(repo, number)
        return self.changed_files.get((repo, number), ())

    def list_open_pull_requests(self, repo: str, *, head_prefix: str = "") -> tuple[PullRequest, ...]:
        self._record("list_open_pull_requests", repo=repo, head_prefix=head_prefix)
        with self._lock:
            found = [
                replace(pr, mergeable=None)  # list results never carry mergeability
                for (where, _), pr in sorted(self.pull_requests.items())
                if where == repo and pr.is_open and not pr.is_fork and pr.head_ref.startswith(head_prefix)
            ]
        return tuple(found)

    def list_reviews(self, repo: str, number: int) -> tuple[Review, ...]:
        self._record("list_reviews", repo=repo, number=number)
        self._pull_request(repo, number)
        return tuple(self.reviews.get((repo, number), ()))

    def review_summary(self, repo: str, number: int) -> ReviewSummary:
        self._record("review_summary", repo=repo, number=number)
        pr = self._pull_request(repo, number)
        return summarize_reviews(self.reviews.get((repo, number), ()), author=pr.author)

    def permission_level(self, repo: str, login: str) -> str:
        self._record("permission_level", repo=repo, login=login)
        return self.permissions.get((repo, login.lower()), "none")

    def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        self._record("is_team_member", org=org, team_slug=team_slug, login=login)
        return login.lower() in self.teams.get((org.lower(), team_slug.lower()), set())

    # -- the Forge port: writes ------------------------------------------------------------

    def open_or_update_pull_request(self, repo: str, spec: PullRequestSpec) -> PullRequestChange:
        self._record("open_or_update_pull_request", repo=repo, spec=spec)
        users, teams = reviewer_targets(spec.reviewers)
        with self._lock:
            existing = next(
                (
                    pr
                    for (where, _), pr in self.pull_requests.items()
                    if where == repo and pr.is_open and not pr.is_fork and pr.head_ref == spec.head
                ),
                None,
            )
            if existing is None:
                number = max((n for (where, n) in self.pull_requests if where == repo), default=0) + 1
                created = self.add_pull_request(
                    repo,
                    number,
                    title=spec.title,
                    body=spec.body,
                    draft=spec.draft,
                    author=self.login,
                    head_ref=spec.head,
                    head_sha=_sha_for(next(self._ids)),
                    base_ref=spec.base,
                    mergeable=None,
                    mergeable_state="unknown",
                    labels=tuple(dict.fromkeys(spec.labels)),
                    requested_reviewers=users,
                    requested_teams=teams,
                )
                return PullRequestChange(created, ChangeOutcome.CREATED)
            updated = replace(
                existing,
                title=spec.title,
                body=spec.body,
                base_ref=spec.base,
                # Only ever added: labels and reviewers a human set by hand stay.
                labels=tuple(dict.fromkeys((*existing.labels, *spec.labels))),
                requested_reviewers=tuple(dict.fromkeys((*existing.requested_reviewers, *users))),
                requested_teams=tuple(dict.fromkeys((*existing.requested_teams, *teams))),
            )
            self.pull_requests[(repo, existing.number)] = updated
        outcome = ChangeOutcome.UNCHANGED if updated == existing else ChangeOutcome.UPDATED
        return PullRequestChange(updated, outcome)

    def close_pull_request(self, repo: str, number: int, *, comment: str | None = None) -> None:
        self._record("close_pull_request", repo=repo, number=number, comment=comment)
        with self._lock:
            pr = self._pull_request(repo, number)
            if comment is not None:
                self._post_comment(repo, number, comment)
            self.pull_requests[(repo, number)] = replace(pr, state="closed", mergeable=None)

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
        self._record(
            "merge_pull_request",
            repo=repo,
            number=number,
            expected_head_sha=expected_head_sha,
            method=method,
            commit_title=commit_title,
            commit_message=commit_message,
        )
        with self._lock:
            pr = self._pull_request(repo, number)
            refusal = _merge_refusal(pr, expected_head_sha)
            if refusal is not None:
                return MergeResult(False, refusal=refusal, message=f"not merged: {refusal}")
            sha = _sha_for(next(self._ids))
            self.pull_requests[(repo, number)] = replace(
                pr, state="closed", merged=True, mergeable=None, merge_commit_sha=sha
            )
        return MergeResult(True, sha=sha, message="Pull Request successfully merged")

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        self._record("create_comment", repo=repo, number=number, body=body)
        with self._lock:  # GitHub takes comments on any issue number, pull request or not
            return self._post_comment(repo, number, body)

    def edit_comment(self, repo: str, comment_id: int, body: str, *, number: int | None = None) -> Comment:
        self._record("edit_comment", repo=repo, comment_id=comment_id, body=body)
        _check_comment_length(body)
        with self._lock:
            for index, posted in enumerate(self.comments):
                if posted.repo == repo and posted.comment.id == comment_id:
                    edited = replace(posted.comment, body=body)
                    self.comments[index] = replace(posted, comment=edited)
                    return edited
        raise ForgeNotFound(f"no comment {comment_id} in {repo}", status=404)

    def add_reaction(
        self, repo: str, comment_id: int, reaction: str = "eyes", *, number: int | None = None
    ) -> None:
        self._record("add_reaction", repo=repo, comment_id=comment_id, reaction=reaction)
        with self._lock:
            self.reactions.append(Reaction(repo, comment_id, reaction))

    def set_commit_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        self._record("set_commit_status", repo=repo, sha=sha, status=status)
        if len(status.description) > MAX_STATUS_DESCRIPTION_LENGTH:
            raise ForgeValidationError(
                f"a status description may have at most {MAX_STATUS_DESCRIPTION_LENGTH} characters",
                status=422,
            )
        with self._lock:
            self.statuses.append(SetStatus(repo, sha, status))

    def find_open_issue(self, repo: str, title: str) -> Issue | None:
        self._record("find_open_issue", repo=repo, title=title)
        with self._lock:
            return self._open_issue(repo, title)

    def open_or_update_issue(self, repo: str, spec: IssueSpec) -> IssueChange:
        self._record("open_or_update_issue", repo=repo, spec=spec)
        _check_comment_length(spec.body)
        with self._lock:
            existing = self._open_issue(repo, spec.title)
            if existing is None:
                number = next(self._ids)
                created = Issue(
                    number, spec.title, spec.body, "open", f"https://github.com/{repo}/issues/{number}"
                )
                self.issues[(repo, number)] = created
                return IssueChange(created, ChangeOutcome.CREATED)
            if existing.body == spec.body:
                return IssueChange(existing, ChangeOutcome.UNCHANGED)
            updated = replace(existing, body=spec.body)
            self.issues[(repo, existing.number)] = updated
            return IssueChange(updated, ChangeOutcome.UPDATED)

    def close_issue(self, repo: str, number: int, *, body: str | None = None) -> None:
        self._record("close_issue", repo=repo, number=number, body=body)
        with self._lock:
            issue = self.issues.get((repo, number))
            if issue is None:
                raise ForgeNotFound(f"no issue {number} in {repo}", status=404)
            self.issues[(repo, number)] = replace(
                issue, state="closed", body=issue.body if body is None else body
            )

    # -- internals -------------------------------------------------------------------------

    def _open_issue(self, repo: str, title: str) -> Issue | None:
        found = [
            i for (r, _), i in self.issues.items() if r == repo and i.state == "open" and i.title == title
        ]
        return min(found, key=lambda issue: issue.number) if found else None

    def _record(self, method: str, /, **arguments: Any) -> None:
        with self._lock:
            self.calls.append(ForgeCall(method, arguments))
            failure = self.failures.pop(method, None)
        if failure is not None:
            raise failure

    def _pull_request(self, repo: str, number: int) -> PullRequest:
        pr = self.pull_requests.get((repo, number))
        if pr is None:
            raise ForgeNotFound(f"no pull request #{number} in {repo}", status=404)
        return pr

    def _post_comment(self, repo: str, number: int, body: str) -> Comment:
        _check_comment_length(body)
        comment_id = next(self._ids)
        comment = Comment(
            id=comment_id,
            body=body,
            html_url=f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
            author=self.login,
        )
        self.comments.append(PostedComment(repo, number, comment))
        return comment


def _check_comment_length(body: str) -> None:
    if len(body) > MAX_COMMENT_LENGTH:
        raise ForgeValidationError(f"a comment may have at most {MAX_COMMENT_LENGTH} characters", status=422)


def _merge_refusal(pr: PullRequest, expected_head_sha: str) -> MergeRefusal | None:
    if pr.merged:
        return MergeRefusal.ALREADY_MERGED
    if not pr.is_open:
        return MergeRefusal.CLOSED
    if pr.head_sha != expected_head_sha:
        return MergeRefusal.HEAD_MOVED
    if pr.mergeable is False or pr.mergeable_state in ("dirty", "blocked"):
        return MergeRefusal.NOT_MERGEABLE
    return None


@dataclass
class FakeForgeFactory:
    """Stands in for ``GitHubForgeFactory``: every installation gets the same ``FakeForge``.

    ``uses_app`` plays GitHub App auth: installation ids are then required, and
    ``installation_id_for`` answers from ``installations`` (``ForgeNotFound`` otherwise).
    ``installations_asked`` records the id of each ``for_installation`` call.
    """

    forge: FakeForge
    uses_app: bool = False
    installations: dict[str, int] = field(default_factory=dict)
    installations_asked: list[int | None] = field(default_factory=list)
    closed: bool = False

    def for_installation(self, installation_id: int | None = None) -> FakeForge:
        if self.uses_app and installation_id is None:
            raise ValueError("GitHub App auth needs the installation id (it comes with each GitHub event)")
        self.installations_asked.append(installation_id)
        return self.forge

    def installation_id_for(self, repo: str) -> int:
        if repo not in self.installations:
            raise ForgeNotFound(f"the App is not installed on {repo}", status=404)
        return self.installations[repo]

    def installation_repositories(self, installation_id: int) -> tuple[str, ...]:
        return tuple(sorted(repo for repo, found in self.installations.items() if found == installation_id))

    def git_token(self, installation_id: int | None = None) -> str | None:
        return None  # the fake has no git remote; a test that needs git uses the HTTP stand-in

    def close(self) -> None:
        self.closed = True


def install_fake_forge(services: Services, forge: FakeForge | None = None, **factory: Any) -> FakeForge:
    """Make ``services`` hand out ``forge`` (a new one by default) and return it.

    ``Services`` builds its forge factory lazily, on first use, and lets tests put their own in
    its place before then; ``factory`` goes to ``FakeForgeFactory`` (``uses_app``, ``installations``).
    """
    if services.forge_factory is not None:
        raise RuntimeError("the forge factory is already built: install the fake before the first use")
    fake = forge if forge is not None else FakeForge()
    if services.settings.forge is None:
        # The fake stands in for GitHub: without credentials the bot would take the local forge.
        services.settings = services.settings.model_copy(update={"forge": "github"})
    # The attribute is typed as the GitHub factory; the fake offers the same methods.
    services.forge_factory = cast(Any, FakeForgeFactory(fake, **factory))
    return fake
