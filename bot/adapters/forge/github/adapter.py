"""The forge port over one authenticated PyGithub client (blocking: call it from worker threads)."""

from __future__ import annotations

import base64
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import github
from github.GithubException import GithubException

from bot.adapters.forge.comments import comment_length
from bot.adapters.forge.github.convert import (
    login_of,
    to_changed_file,
    to_comment,
    to_pull_request,
    to_review,
)
from bot.adapters.forge.github.errors import error_message, translated
from bot.adapters.forge.github.issues import close as close_issue
from bot.adapters.forge.github.issues import find_open as find_open_issue
from bot.adapters.forge.github.issues import open_or_update as open_or_update_issue
from bot.adapters.forge.github.issues import to_issue
from bot.adapters.forge.github.pull_requests import add_labels_and_reviewers, bring_up_to_date, merge_refusal
from bot.adapters.forge.port import (
    MAX_COMMENT_LENGTH,
    MAX_STATUS_DESCRIPTION_LENGTH,
    ChangedFile,
    ChangeOutcome,
    Comment,
    CommitStatus,
    ForgeValidationError,
    Issue,
    IssueChange,
    IssueSpec,
    MergeMethod,
    MergeResult,
    PullRequest,
    PullRequestChange,
    PullRequestSpec,
    Review,
    ReviewSummary,
    normalise_permission,
    split_full_name,
    summarize_reviews,
)

REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})


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
        with translated():
            return self._repo(repo).default_branch

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        clean = path.strip("/")
        if not clean:
            raise ValueError("read_file needs the path of a file, not the repository root")
        with translated():
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
        with translated():
            repository = self._repo(repo)
            for attempt in range(self._poll_attempts):
                pr = repository.get_pull(number)
                # GitHub computes mergeability in the background and answers null meanwhile.
                if pr.state != "open" or pr.mergeable is not None or attempt == self._poll_attempts - 1:
                    return to_pull_request(pr, repo, full=True)
                self._sleep(self._poll_interval)
        raise AssertionError("unreachable")  # pragma: no cover

    def list_changed_files(self, repo: str, number: int) -> tuple[ChangedFile, ...]:
        with translated():
            files = self._repo(repo).get_pull(number).get_files()
            return tuple(to_changed_file(item) for item in files)

    def list_open_pull_requests(self, repo: str, *, head_prefix: str = "") -> tuple[PullRequest, ...]:
        with translated():
            found = []
            for pr in self._repo(repo).get_pulls(state="open", sort="created", direction="asc"):
                converted = to_pull_request(pr, repo, full=False)
                if not converted.is_fork and converted.head_ref.startswith(head_prefix):
                    found.append(converted)
            return tuple(found)

    def list_reviews(self, repo: str, number: int) -> tuple[Review, ...]:
        with translated():
            reviews = self._repo(repo).get_pull(number).get_reviews()
            return tuple(to_review(review) for review in reviews)

    def review_summary(self, repo: str, number: int) -> ReviewSummary:
        with translated():
            author = login_of(self._repo(repo).get_pull(number).user)
        return summarize_reviews(self.list_reviews(repo, number), author=author)

    def permission_level(self, repo: str, login: str) -> str:
        owner, name = split_full_name(repo)
        quoted = urllib.parse.quote(login, safe="")
        with translated():
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
        with translated():
            try:
                _, data = self._request("GET", path)
            except GithubException as error:
                if error.status == 404:  # not a member, or no such team
                    return False
                raise
        return data.get("state") == "active"

    # -- writing -------------------------------------------------------------------------------

    def open_or_update_pull_request(self, repo: str, spec: PullRequestSpec) -> PullRequestChange:
        with translated():
            repository = self._repo(repo)
            existing = self._find_open(repo, spec.head)
            if existing is None:
                try:
                    created = repository.create_pull(
                        base=spec.base, head=spec.head, title=spec.title, body=spec.body, draft=spec.draft
                    )
                except GithubException as error:
                    # Another worker opened it between our look-up and our create.
                    if error.status != 422 or "already exists" not in error_message(error):
                        raise
                    existing = self._find_open(repo, spec.head)
                    if existing is None:
                        raise
                else:
                    add_labels_and_reviewers(repo, created, spec, reviewed=frozenset())
                    return PullRequestChange(
                        self.get_pull_request(repo, created.number), ChangeOutcome.CREATED
                    )
            changed = bring_up_to_date(repo, existing, spec)
            outcome = ChangeOutcome.UPDATED if changed else ChangeOutcome.UNCHANGED
            if not changed:
                return PullRequestChange(to_pull_request(existing, repo, full=False), outcome)
            return PullRequestChange(self.get_pull_request(repo, existing.number), outcome)

    def close_pull_request(self, repo: str, number: int, *, comment: str | None = None) -> None:
        if comment:
            self.create_comment(repo, number, comment)
        with translated():
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
        with translated():
            pr = self._repo(repo).get_pull(number)
            try:
                status = pr.merge(**options)
            except GithubException as error:
                # Only a 405 needs the pull request as it is now to tell what the refusal means.
                current = self.get_pull_request(repo, number) if error.status == 405 else None
                refusal = merge_refusal(
                    error.status, error_message(error), expected_head_sha=expected_head_sha, current=current
                )
                if refusal is None:
                    raise
                return refusal
            return MergeResult(merged=bool(status.merged), sha=status.sha, message=status.message or "")

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        self._check_body(body)
        with translated():
            return to_comment(self._repo(repo).get_issue(number).create_comment(body))

    def edit_comment(self, repo: str, comment_id: int, body: str, *, number: int | None = None) -> Comment:
        self._check_body(body)
        with translated():
            comment = self._issue_comment(repo, comment_id)
            comment.edit(body)
            return to_comment(comment)

    def add_reaction(
        self, repo: str, comment_id: int, reaction: str = "eyes", *, number: int | None = None
    ) -> None:
        if reaction not in REACTIONS:
            raise ValueError(f"unknown reaction {reaction!r}; GitHub knows {', '.join(sorted(REACTIONS))}")
        with translated():
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
        with translated():
            self._request("POST", f"/repos/{owner}/{name}/statuses/{urllib.parse.quote(sha)}", input=payload)

    def find_open_issue(self, repo: str, title: str) -> Issue | None:
        with translated():
            found = find_open_issue(self._repo(repo), title)
            return to_issue(found) if found is not None else None

    def open_or_update_issue(self, repo: str, spec: IssueSpec) -> IssueChange:
        if comment_length(spec.body) > MAX_COMMENT_LENGTH:
            raise ValueError(f"an issue body may have at most {MAX_COMMENT_LENGTH} characters")
        with translated():
            return open_or_update_issue(self._repo(repo), spec)

    def close_issue(self, repo: str, number: int, *, body: str | None = None) -> None:
        with translated():
            close_issue(self._repo(repo), number, body)

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
