"""The forge a dry-run bot gets: every read answered by the real forge, every write refused.

Dry-run code paths are meant to record a decision instead of performing it; this guard makes
a forgotten ``services.dry_run`` check fail loudly instead of changing a repository. Each
method of the ``Forge`` port is written out here (no ``__getattr__`` forwarding), so a write
method added to the port cannot slip through unguarded: the unit test checks that every port
method is implemented in this class.
"""

from __future__ import annotations

from typing import NoReturn

from bot.adapters.forge.port import (
    ChangedFile,
    Comment,
    CommitStatus,
    Forge,
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
)


class DryRunViolation(RuntimeError):
    """A write was attempted in dry-run: the calling code forgot to check ``services.dry_run``."""


def _refuse(method: str) -> NoReturn:
    raise DryRunViolation(f"dry-run: {method} must be recorded as an action, not performed")


class DryRunForge(Forge):
    """Wraps a forge: reads delegate to it, writes raise :class:`DryRunViolation`."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    # -- reads ---------------------------------------------------------------------------

    def default_branch(self, repo: str) -> str:
        return self.forge.default_branch(repo)

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        return self.forge.read_file(repo, path, ref)

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        return self.forge.get_pull_request(repo, number)

    def list_changed_files(self, repo: str, number: int) -> tuple[ChangedFile, ...]:
        return self.forge.list_changed_files(repo, number)

    def list_open_pull_requests(self, repo: str, *, head_prefix: str = "") -> tuple[PullRequest, ...]:
        return self.forge.list_open_pull_requests(repo, head_prefix=head_prefix)

    def list_reviews(self, repo: str, number: int) -> tuple[Review, ...]:
        return self.forge.list_reviews(repo, number)

    def review_summary(self, repo: str, number: int) -> ReviewSummary:
        return self.forge.review_summary(repo, number)

    def permission_level(self, repo: str, login: str) -> str:
        return self.forge.permission_level(repo, login)

    def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        return self.forge.is_team_member(org, team_slug, login)

    def find_open_issue(self, repo: str, title: str) -> Issue | None:
        return self.forge.find_open_issue(repo, title)

    # -- writes --------------------------------------------------------------------------

    def open_or_update_pull_request(self, repo: str, spec: PullRequestSpec) -> PullRequestChange:
        _refuse("open_or_update_pull_request")

    def close_pull_request(self, repo: str, number: int, *, comment: str | None = None) -> None:
        _refuse("close_pull_request")

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
        _refuse("merge_pull_request")

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        _refuse("create_comment")

    def edit_comment(self, repo: str, comment_id: int, body: str, *, number: int | None = None) -> Comment:
        _refuse("edit_comment")

    def add_reaction(
        self, repo: str, comment_id: int, reaction: str = "eyes", *, number: int | None = None
    ) -> None:
        _refuse("add_reaction")

    def set_commit_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        _refuse("set_commit_status")

    def open_or_update_issue(self, repo: str, spec: IssueSpec) -> IssueChange:
        _refuse("open_or_update_issue")

    def close_issue(self, repo: str, number: int, *, body: str | None = None) -> None:
        _refuse("close_issue")
