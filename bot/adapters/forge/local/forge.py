"""The local forge (``GITOPS_BOT_FORGE=local``): the :class:`~bot.adapters.forge.port.Forge` port over
bare git repositories on disk and rows in the bot's database, for trying the whole loop on one
machine (``make run``) and for teams without a hosted forge in a lab.

Everything a hosted forge would do is done for real: branches are the bare repository's, a merge
is a merge commit pushed to the default branch, and each change a person or the bot makes (a pull
request opened, updated, merged, closed; a comment) reaches the bot's handlers as the event GitHub
would have sent (:mod:`bot.adapters.forge.local.events`). Who may do what: the local forge's users
are the operators of the machine, so every login is ``admin`` (``permissions:`` rules that name
logins or levels still apply; ``team:`` entries match nobody).
"""

from __future__ import annotations

from bot.adapters.forge.local.events import Sink, as_events, comment_payload, pull_request_payload
from bot.adapters.forge.local.repos import LocalRepos
from bot.adapters.forge.local.store import LocalStore
from bot.adapters.forge.port import (
    ChangedFile,
    ChangeOutcome,
    Comment,
    CommitStatus,
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
    summarize_reviews,
)
from bot.storage.models import LocalThread

BOT_LOGIN = "gitops-bot"


class LocalForge:
    """One forge for every repository under the local repositories' directory."""

    def __init__(
        self,
        repos: LocalRepos,
        store: LocalStore,
        *,
        web_base: str,
        sink: Sink | None,
        login: str = BOT_LOGIN,
    ) -> None:
        self.repos = repos
        self.store = store
        self.web_base = web_base.rstrip("/")
        self.sink = sink
        self.login = login  # who the bot is when it writes

    # -- reading ---------------------------------------------------------------------------------

    def html_url(self, repo: str, number: int) -> str:
        return f"{self.web_base}/pulls/{repo}/{number}"

    def default_branch(self, repo: str) -> str:
        return self.repos.default_branch(repo)

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        return self.repos.read_file(repo, path, ref)

    def _thread(self, repo: str, number: int, kind: str = "pull_request") -> LocalThread:
        row = self.store.thread(repo, number, kind)
        if row is None:
            raise ForgeNotFound(f"{repo} has no {kind.replace('_', ' ')} #{number}", status=404)
        return row

    def pull_request_of(self, row: LocalThread) -> PullRequest:
        head_ref, base_ref = row.head_ref or "", row.base_ref or "main"
        head_sha = (self.repos.sha(row.repo, head_ref) if row.state == "open" else None) or row.head_sha or ""
        base_sha = self.repos.sha(row.repo, base_ref) or ""
        mergeable: bool | None = None
        state = "clean"
        if row.state == "open":
            mergeable = bool(head_sha) and self.repos.mergeable(row.repo, base_ref, head_sha)
            state = "draft" if row.draft else ("clean" if mergeable else "dirty")
        return PullRequest(
            number=row.number, title=row.title, body=row.body,
            state="open" if row.state == "open" else "closed", merged=row.state == "merged", draft=row.draft,
            author=row.author, head_ref=head_ref, head_sha=head_sha, head_repo=row.repo, base_ref=base_ref,
            base_sha=base_sha, base_repo=row.repo, is_fork=False, mergeable=mergeable, mergeable_state=state,
            merge_commit_sha=row.merge_sha, html_url=self.html_url(row.repo, row.number),
            labels=tuple(row.labels or ()),
        )  # fmt: skip

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        return self.pull_request_of(self._thread(repo, number))

    def list_changed_files(self, repo: str, number: int) -> tuple[ChangedFile, ...]:
        pull = self.get_pull_request(repo, number)
        return self.repos.changed_files(repo, pull.base_sha or pull.base_ref, pull.head_sha)

    def list_open_pull_requests(self, repo: str, *, head_prefix: str = "") -> tuple[PullRequest, ...]:
        rows = self.store.threads(repo, kind="pull_request", state="open")
        return tuple(
            self.pull_request_of(row)
            for row in reversed(rows)
            if (row.head_ref or "").startswith(head_prefix)
        )

    def diff(self, repo: str, number: int) -> str:
        pull = self.get_pull_request(repo, number)
        head = pull.head_sha if pull.is_open else (pull.merge_commit_sha or pull.head_sha)
        base = pull.base_ref if pull.is_open else f"{head}^1"
        return self.repos.diff(repo, base, head)

    # -- pull requests ---------------------------------------------------------------------------

    def open_or_update_pull_request(self, repo: str, spec: PullRequestSpec) -> PullRequestChange:
        return self.open_pull_request(repo, spec, author=self.login)

    def open_pull_request(self, repo: str, spec: PullRequestSpec, *, author: str) -> PullRequestChange:
        """Open a pull request from ``spec.head`` (or bring the open one from it up to ``spec``)."""
        head_sha = self.repos.sha(repo, spec.head)
        if head_sha is None or self.repos.sha(repo, spec.base) is None:
            raise ForgeValidationError(f"{repo} needs both branches {spec.head} and {spec.base}", status=422)
        existing = next(
            (
                r
                for r in self.store.threads(repo, kind="pull_request", state="open")
                if r.head_ref == spec.head
            ),
            None,
        )
        if existing is None:
            row = self.store.create_thread(
                repo, kind="pull_request", title=spec.title, body=spec.body, state="open",
                author=author, head_ref=spec.head, base_ref=spec.base, head_sha=head_sha,
                draft=spec.draft, labels=list(spec.labels),
            )  # fmt: skip
            self.repos.set_pull_ref(repo, row.number, head_sha)
            self._announce("opened", row, sender=author)
            return PullRequestChange(self.pull_request_of(row), ChangeOutcome.CREATED)
        labels = list(dict.fromkeys([*(existing.labels or []), *spec.labels]))
        moved = existing.head_sha != head_sha
        unchanged = not moved and (existing.title, existing.body, existing.labels or []) == (
            spec.title,
            spec.body,
            labels,
        )
        if unchanged:
            return PullRequestChange(self.pull_request_of(existing), ChangeOutcome.UNCHANGED)
        row = self.store.update_thread(
            repo, existing.number, title=spec.title, body=spec.body, labels=labels, head_sha=head_sha
        )
        assert row is not None
        if moved:
            self.repos.set_pull_ref(repo, row.number, head_sha)
            self._announce("synchronize", row, sender=author)
        return PullRequestChange(self.pull_request_of(row), ChangeOutcome.UPDATED)

    def close_pull_request(
        self, repo: str, number: int, *, comment: str | None = None, by: str | None = None
    ) -> None:
        row = self._thread(repo, number)
        if comment:
            self.create_comment(repo, number, comment)
        if row.state != "open":
            return
        closed = self.store.update_thread(repo, number, state="closed")
        assert closed is not None
        self._announce("closed", closed, sender=by or self.login)

    def merge_pull_request(
        self,
        repo: str,
        number: int,
        *,
        expected_head_sha: str,
        method: MergeMethod = MergeMethod.MERGE,
        commit_title: str | None = None,
        commit_message: str | None = None,
        by: str | None = None,
    ) -> MergeResult:
        row = self._thread(repo, number)
        if row.state == "merged":
            return MergeResult(False, row.merge_sha, MergeRefusal.ALREADY_MERGED, "already merged")
        if row.state != "open":
            return MergeResult(False, None, MergeRefusal.CLOSED, "the pull request is closed")
        pull = self.pull_request_of(row)
        if expected_head_sha and pull.head_sha != expected_head_sha:
            return MergeResult(False, None, MergeRefusal.HEAD_MOVED, f"the head is now {pull.head_sha[:12]}")
        title = commit_title or f"Merge pull request #{number} from {pull.head_ref}"
        merged = self.repos.merge(
            repo,
            pull.base_ref,
            pull.head_sha,
            method=method,
            title=title,
            message=commit_message or row.title,
        )
        if merged.sha is None:
            return MergeResult(
                False, None, MergeRefusal.NOT_MERGEABLE, f"it does not merge cleanly: {merged.conflict}"
            )
        done = self.store.update_thread(
            repo,
            number,
            state="merged",
            merge_sha=merged.sha,
            head_sha=pull.head_sha,
            merged_by=by or self.login,
        )
        assert done is not None
        self._announce("closed", done, sender=by or self.login)
        return MergeResult(True, merged.sha, None, "merged")

    # -- comments, reactions, statuses -------------------------------------------------------------

    def create_comment(self, repo: str, number: int, body: str, *, author: str | None = None) -> Comment:
        # Pull requests and issues are numbered apart here, and the bot comments on pull requests.
        row = self.store.thread(repo, number) or self.store.thread(repo, number, "issue")
        if row is None:
            raise ForgeNotFound(f"{repo} has no #{number}", status=404)
        written = self.store.add_comment(repo, number, author or self.login, body)
        url = f"{self.html_url(repo, number)}#comment-{written.id}"
        if author is not None and author != self.login and row.kind == "pull_request":
            self._emit("issue_comment", comment_payload(
                repo=repo, number=number, comment_id=written.id, body=body, author=author,
                created_at=written.created_at.isoformat(), html_url=self.html_url(repo, number),
            ))  # fmt: skip
        return Comment(written.id, body, url, written.author)

    def edit_comment(self, repo: str, comment_id: int, body: str, *, number: int | None = None) -> Comment:
        row = self.store.edit_comment(repo, comment_id, body=body)
        if row is None:
            raise ForgeNotFound(f"{repo} has no comment {comment_id}", status=404)
        return Comment(row.id, row.body, f"{self.html_url(repo, row.number)}#comment-{row.id}", row.author)

    def add_reaction(
        self, repo: str, comment_id: int, reaction: str = "eyes", *, number: int | None = None
    ) -> None:
        if self.store.edit_comment(repo, comment_id, reaction=reaction) is None:
            raise ForgeNotFound(f"{repo} has no comment {comment_id}", status=404)

    def set_commit_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        self.store.set_status(
            repo, sha, status.context, str(status.state), status.description, status.target_url
        )

    # -- issues ----------------------------------------------------------------------------------

    def _issue(self, row: LocalThread) -> Issue:
        return Issue(
            row.number,
            row.title,
            row.body,
            "open" if row.state == "open" else "closed",
            f"{self.web_base}/api/local/repos/{row.repo}/issues",  # the repository's issues, as JSON
        )

    def find_open_issue(self, repo: str, title: str) -> Issue | None:
        rows = [row for row in self.store.threads(repo, kind="issue", state="open") if row.title == title]
        return self._issue(rows[-1]) if rows else None

    def open_or_update_issue(self, repo: str, spec: IssueSpec) -> IssueChange:
        found = self.find_open_issue(repo, spec.title)
        if found is None:
            row = self.store.create_thread(
                repo, kind="issue", title=spec.title, body=spec.body, state="open", author=self.login
            )
            return IssueChange(self._issue(row), ChangeOutcome.CREATED)
        if found.body == spec.body:
            return IssueChange(found, ChangeOutcome.UNCHANGED)
        row = self.store.update_thread(repo, found.number, "issue", body=spec.body)
        assert row is not None
        return IssueChange(self._issue(row), ChangeOutcome.UPDATED)

    def close_issue(self, repo: str, number: int, *, body: str | None = None) -> None:
        self._thread(repo, number, kind="issue")
        fields = {"state": "closed", **({"body": body} if body is not None else {})}
        self.store.update_thread(repo, number, "issue", **fields)

    # -- reviews and people ----------------------------------------------------------------------

    def approve(self, repo: str, number: int, *, by: str) -> None:
        pull = self.get_pull_request(repo, number)
        self.store.add_review(repo, number, by, "APPROVED", pull.head_sha)

    def list_reviews(self, repo: str, number: int) -> tuple[Review, ...]:
        return tuple(
            Review(row.author, row.state, row.commit_id, row.submitted_at.isoformat())
            for row in self.store.reviews(repo, number)
        )

    def review_summary(self, repo: str, number: int) -> ReviewSummary:
        return summarize_reviews(self.list_reviews(repo, number), author=self._thread(repo, number).author)

    def permission_level(self, repo: str, login: str) -> str:
        return "admin" if self.repos.exists(repo) else "none"

    def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        return False

    # -- events ------------------------------------------------------------------------------------

    def _announce(self, action: str, row: LocalThread, *, sender: str) -> None:
        pull = self.pull_request_of(row)
        payload = pull_request_payload(
            action, pull, repo=row.repo, default_branch=self.repos.default_branch(row.repo), sender=sender
        )
        self._emit("pull_request", payload)

    def _emit(self, event: str, payload: dict[str, object]) -> None:
        if self.sink is not None:
            self.sink(as_events(event, dict(payload)))
