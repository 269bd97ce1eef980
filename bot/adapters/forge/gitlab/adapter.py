"""The forge port over one authenticated python-gitlab client (blocking: call it from worker threads).

Repositories arrive as ``gitlab:group/subgroup/project``; pull requests are merge requests (by
``iid``), comments are notes, reactions are award emoji, reviews are approvals. What GitLab says
in its own words is converted in :mod:`.convert`; merge requests are written in :mod:`.merge_requests`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import gitlab
from gitlab import exceptions as gitlab_errors

from bot.adapters.forge.gitlab.convert import (
    approvals_as_reviews,
    permission_of,
    to_changed_file,
    to_comment,
    to_pull_request,
    username,
)
from bot.adapters.forge.gitlab.errors import translated
from bot.adapters.forge.gitlab.issues import close as close_issue
from bot.adapters.forge.gitlab.issues import find_open as find_open_issue
from bot.adapters.forge.gitlab.issues import open_or_update as open_or_update_issue
from bot.adapters.forge.gitlab.merge_requests import merge as merge_request
from bot.adapters.forge.gitlab.merge_requests import open_or_update as open_or_update_request
from bot.adapters.forge.names import gitlab_name, gitlab_path
from bot.adapters.forge.port import (
    MAX_STATUS_DESCRIPTION_LENGTH,
    ChangedFile,
    Comment,
    CommitState,
    CommitStatus,
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
    summarize_reviews,
)

# GitLab's note limit (characters); notes longer than this are refused with 400.
MAX_NOTE_LENGTH = 1_000_000
# The award emoji GitLab knows for the reactions the bot uses (GitHub's names on the left).
EMOJI = {"eyes": "eyes", "+1": "thumbsup", "-1": "thumbsdown", "rocket": "rocket", "hooray": "tada"}
# A head pipeline GitLab can still merge after (merge_when_pipeline_succeeds).
RUNNING_PIPELINE = frozenset(
    {"created", "waiting_for_resource", "preparing", "pending", "running", "scheduled"}
)
COMMIT_STATES = {
    CommitState.PENDING: "pending",
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failed",
    CommitState.ERROR: "failed",
}


class GitLabForge:
    """The :class:`~bot.adapters.forge.port.Forge` port over one python-gitlab client."""

    max_comment_length = MAX_NOTE_LENGTH

    def __init__(
        self,
        client: gitlab.Gitlab,
        *,
        mergeable_poll_attempts: int = 5,
        mergeable_poll_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._poll_attempts = max(1, mergeable_poll_attempts)
        self._poll_interval = mergeable_poll_interval
        self._sleep = sleep
        self._user_ids: dict[str, int | None] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> gitlab.Gitlab:
        return self._client

    def close(self) -> None:
        self._client.session.close()

    # -- helpers -------------------------------------------------------------------------------

    def _project(self, repo: str) -> Any:
        return self._client.projects.get(gitlab_path(repo), lazy=True)

    def _mr(self, repo: str, number: int) -> Any:
        return self._project(repo).mergerequests.get(int(number), lazy=True)

    def user_id(self, login: str) -> int | None:
        """The user's id (cached: a username is looked up once per forge)."""
        key = login.lstrip("@").lower()
        with self._lock:
            if key in self._user_ids:
                return self._user_ids[key]
        with translated():
            found = self._client.users.list(username=login.lstrip("@"), get_all=False)
        user_id = int(found[0].id) if found else None
        with self._lock:
            self._user_ids[key] = user_id
        return user_id

    def _head_repo(self, mr: dict[str, Any], repo: str) -> str | None:
        if mr.get("source_project_id") == mr.get("target_project_id"):
            return repo
        try:
            source = self._client.projects.get(int(mr["source_project_id"]))
        except gitlab_errors.GitlabGetError as error:
            if error.response_code == 404:
                return None  # the fork was deleted
            raise
        return gitlab_name(source.path_with_namespace)

    # -- reading -------------------------------------------------------------------------------

    def default_branch(self, repo: str) -> str:
        with translated():
            return str(self._client.projects.get(gitlab_path(repo)).default_branch)

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        clean = path.strip("/")
        if not clean:
            raise ValueError("read_file needs the path of a file, not the repository root")
        with translated():
            try:
                content = self._project(repo).files.raw(file_path=clean, ref=ref)
            except gitlab_errors.GitlabGetError as error:
                if error.response_code == 404:  # no such file, or no such ref
                    return None
                raise
        return bytes(content) if content is not None else b""

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        with translated():
            manager = self._project(repo).mergerequests
            for attempt in range(self._poll_attempts):
                data = manager.get(int(number)).attributes
                converted = to_pull_request(data, repo, head_repo=self._head_repo(data, repo), full=True)
                # GitLab checks mergeability in the background ("checking"/"unchecked") meanwhile.
                if (
                    not converted.is_open
                    or converted.mergeable is not None
                    or attempt == self._poll_attempts - 1
                ):
                    return converted
                self._sleep(self._poll_interval)
        raise AssertionError("unreachable")  # pragma: no cover

    def list_changed_files(self, repo: str, number: int) -> tuple[ChangedFile, ...]:
        path = f"/projects/{_encoded(repo)}/merge_requests/{int(number)}/diffs"
        with translated():
            diffs = self._client.http_list(path, iterator=True)
            return tuple(to_changed_file(diff) for diff in diffs)

    def list_open_pull_requests(self, repo: str, *, head_prefix: str = "") -> tuple[PullRequest, ...]:
        with translated():
            listed = self._project(repo).mergerequests.list(
                state="opened", order_by="created_at", sort="asc", iterator=True
            )
            found = []
            for mr in listed:
                converted = to_pull_request(mr.attributes, repo, head_repo=None, full=False)
                if not converted.is_fork and converted.head_ref.startswith(head_prefix):
                    found.append(converted)
            return tuple(found)

    def list_reviews(self, repo: str, number: int) -> tuple[Review, ...]:
        return self._approvals(repo, number)[1]

    def review_summary(self, repo: str, number: int) -> ReviewSummary:
        author, reviews = self._approvals(repo, number)
        return summarize_reviews(reviews, author=author)

    def _approvals(self, repo: str, number: int) -> tuple[str, tuple[Review, ...]]:
        """(author, approvals as reviews at the head): the merge request and its approvals, read once."""
        with translated():
            mr = self._project(repo).mergerequests.get(int(number))
            return username(mr.attributes.get("author")), approvals_as_reviews(
                mr.approvals.get().attributes, str(mr.sha or "")
            )

    def permission_level(self, repo: str, login: str) -> str:
        """The user's access level on the project, inherited from its groups included."""
        user_id = self.user_id(login)
        if user_id is None:
            return "none"
        with translated():
            try:
                member = self._project(repo).members_all.get(user_id)
            except gitlab_errors.GitlabGetError as error:
                if error.response_code == 404:  # not a member
                    return "none"
                raise
        if getattr(member, "state", "active") != "active":
            return "none"
        return permission_of(getattr(member, "access_level", None))

    def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        """``team:<slug>`` is a group: ``<top-level group>/<slug>``, or a full path when it has ``/``."""
        group = team_slug if "/" in team_slug else f"{org}/{team_slug}"
        user_id = self.user_id(login)
        if user_id is None:
            return False
        with translated():
            try:
                member = self._client.groups.get(group, lazy=True).members_all.get(user_id)
            except gitlab_errors.GitlabGetError as error:
                if error.response_code == 404:  # not a member, or no such group
                    return False
                raise
        return getattr(member, "state", "active") == "active"

    # -- writing -------------------------------------------------------------------------------

    def open_or_update_pull_request(self, repo: str, spec: PullRequestSpec) -> PullRequestChange:
        with translated():
            outcome, iid = open_or_update_request(self.user_id, self._project(repo), spec)
            return PullRequestChange(self.get_pull_request(repo, iid), outcome)

    def close_pull_request(self, repo: str, number: int, *, comment: str | None = None) -> None:
        if comment:
            self.create_comment(repo, number, comment)
        with translated():
            self._project(repo).mergerequests.update(int(number), {"state_event": "close"})

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
        message = "\n\n".join(part for part in (commit_title, commit_message) if part) or None
        with translated():
            return merge_request(
                self._mr(repo, number),
                lambda: self.get_pull_request(repo, number),
                expected_head_sha=expected_head_sha,
                squash=MergeMethod(method) is MergeMethod.SQUASH,
                message=message,
            )

    def merge_when_checks_pass(self, repo: str, number: int, *, expected_head_sha: str) -> bool | None:
        """GitLab's auto-merge: merge at ``expected_head_sha`` once the head pipeline succeeds, even
        when the bot is not there to see it. True when set now, False when it already was, None when
        there is no running pipeline to wait for (nothing set)."""
        with translated():
            mr = self._project(repo).mergerequests.get(int(number))
            data = mr.attributes
            if data.get("merge_when_pipeline_succeeds") or data.get("auto_merge_enabled"):
                return False
            pipeline = data.get("head_pipeline") or {}
            if data.get("sha") != expected_head_sha or pipeline.get("status") not in RUNNING_PIPELINE:
                return None
            mr.merge(sha=expected_head_sha, merge_when_pipeline_succeeds=True)
            return True

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        self._check_body(body)
        with translated():
            mr = self._mr(repo, number)
            note = mr.notes.create({"body": body})
            return to_comment(note.attributes, self._mr_url(repo, number))

    def edit_comment(self, repo: str, comment_id: int, body: str, *, number: int | None = None) -> Comment:
        self._check_body(body)
        if number is None:
            raise ValueError("GitLab addresses a note through its merge request: pass number=")
        with translated():
            self._mr(repo, number).notes.update(int(comment_id), {"body": body})
            note = self._mr(repo, number).notes.get(int(comment_id))
            return to_comment(note.attributes, self._mr_url(repo, number))

    def add_reaction(
        self, repo: str, comment_id: int, reaction: str = "eyes", *, number: int | None = None
    ) -> None:
        if reaction not in EMOJI:
            raise ValueError(f"unknown reaction {reaction!r}; the bot knows {', '.join(sorted(EMOJI))}")
        if number is None:
            raise ValueError("GitLab addresses a note through its merge request: pass number=")
        with translated():
            note = self._mr(repo, number).notes.get(int(comment_id), lazy=True)
            try:
                note.awardemojis.create({"name": EMOJI[reaction]})
            except gitlab_errors.GitlabCreateError as error:
                # Awarding the same emoji twice is refused ("has already been taken"): it is there.
                if error.response_code not in (400, 404, 422) or "taken" not in str(error).lower():
                    raise

    def set_commit_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        description = status.description
        if len(description) > MAX_STATUS_DESCRIPTION_LENGTH:
            description = description[: MAX_STATUS_DESCRIPTION_LENGTH - 1] + "…"
        payload: dict[str, str] = {"state": COMMIT_STATES[CommitState(status.state)], "name": status.context}
        if description:
            payload["description"] = description
        if status.target_url:
            payload["target_url"] = status.target_url
        with translated():
            try:
                self._project(repo).commits.get(sha, lazy=True).statuses.create(payload)
            except gitlab_errors.GitlabCreateError as error:
                # GitLab refuses a transition to the state a status already has: nothing to change.
                if error.response_code != 400 or "transition" not in str(error).lower():
                    raise

    def find_open_issue(self, repo: str, title: str) -> Issue | None:
        with translated():
            return find_open_issue(self._project(repo), title)

    def open_or_update_issue(self, repo: str, spec: IssueSpec) -> IssueChange:
        with translated():
            return open_or_update_issue(self._project(repo), spec)

    def close_issue(self, repo: str, number: int, *, body: str | None = None) -> None:
        with translated():
            close_issue(self._project(repo), number, body)

    def _mr_url(self, repo: str, number: int) -> str:
        web = self._client.url.rstrip("/")
        return f"{web}/{gitlab_path(repo)}/-/merge_requests/{int(number)}"

    @staticmethod
    def _check_body(body: str) -> None:
        if not body:
            raise ValueError("a comment needs a body")
        if len(body) > MAX_NOTE_LENGTH:
            raise ValueError(
                f"a GitLab note may have at most {MAX_NOTE_LENGTH} characters; "
                "split it with bot.adapters.forge.comments.split_comment"
            )


def _encoded(repo: str) -> str:
    from urllib.parse import quote

    return quote(gitlab_path(repo), safe="")
