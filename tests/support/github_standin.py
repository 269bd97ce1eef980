"""A local GitHub REST API for tests, backed by real git repositories.

``GitHubStandIn`` serves, on 127.0.0.1 and a free port, the REST endpoints the bot's PyGithub
adapter uses, in GitHub's wire format: same paths, status codes and error bodies
(``{"message": ..., "documentation_url": ...}``), ``X-RateLimit-*`` headers, ``Link``
pagination, and absolute ``url`` fields built from the server's own address (PyGithub
follows them). Repositories are bare git repositories on disk: contents, PR heads, changed
files and merges are real git. Comments, reactions, statuses, reviews, labels, permissions,
teams and App installations are in-memory state.

Webhooks (off unless configured with ``webhook_url=`` or ``set_webhook``): like a GitHub App or
repository webhook, the stand-in POSTs signed deliveries (``X-Hub-Signature-256``,
``X-GitHub-Event``, ``X-GitHub-Delivery``) to the bot under test, in order, from one sender
thread: ``pull_request`` opened / edited / labeled / synchronize / closed (with ``merged`` and
``merge_commit_sha`` after a merge) / reopened, ``issue_comment`` created / edited, and ``push``
(opt-in through ``events``). Pushes are seen whoever makes them (the bot over ``file://``, a
test hook, a merge): every bare repository has a ``post-receive`` hook that appends to a spool
the stand-in reads before each API request, on test hooks and on ``flush``. ``flush()`` waits
until everything queued is delivered; ``deliveries`` records each one with its answer.

Test hooks (all thread-safe):

* set-up: ``create_repo``, ``commit``, ``add_token``, ``configure_app``, ``add_installation``,
  ``set_permission``, ``add_team_member``, ``open_pull_request`` (as another user),
  ``add_review``, ``dismiss_review``, ``set_mergeable_pending``, ``block_merge``;
* acting as a user (and sending the matching webhooks): ``post_comment_as``,
  ``merge_pull_request``, ``commit`` (a push), ``open_pull_request``;
* webhooks: ``set_webhook``, ``flush``, ``deliveries``, ``deliveries_of``, ``redeliver``;
* faults: ``fail_next`` (any status), ``rate_limit_next`` (429), ``secondary_rate_limit_next`` (403);
  a comment or PR body over 65,536 characters is refused with GitHub's 422 by itself;
* read-back: ``requests``, ``pull``, ``pulls``, ``comments``, ``reactions``, ``statuses``,
  ``labels``, ``issues`` (plain issues: ``github_standin_issues``), ``issued_tokens``,
  ``repo_path``/``repo_url`` (``file://`` URL to push to);
* OAuth web flow (``github_standin_oauth``): ``configure_oauth_app``, ``approve_oauth_as``,
  ``oauth_tokens``, ``oauth_requests``; ``GET /user``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt

from tests.support import github_standin_git as bare_git
from tests.support.github_standin_issues import IssuesMixin, PlainIssue
from tests.support.github_standin_oauth import OAuthMixin
from tests.support.http_standin import serve, shut

DOCS = "https://docs.github.com/rest"
REACTION_CONTENTS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}
SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
MAX_CONTENT_SIZE = 1024 * 1024
MAX_BODY_LENGTH = 65536
ZERO_SHA = "0" * 40
# Events a webhook subscribes to unless told otherwise; "*" subscribes to every event sent.
DEFAULT_WEBHOOK_EVENTS = frozenset({"pull_request", "issue_comment"})
PUSH_SPOOL = "standin-pushes.log"
# Runs in the bare repository (receive-pack's working directory) after refs moved: one
# "<old> <new> <ref>" line per updated ref, appended whoever pushed.
POST_RECEIVE_HOOK = "#!/bin/sh\ncat >> " + PUSH_SPOOL + "\n"
WEBHOOK_TIMEOUT_SECONDS = 10.0  # GitHub gives up on a delivery after 10 s


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spool_size(bare: Path) -> int:
    try:
        return (bare / PUSH_SPOOL).stat().st_size
    except FileNotFoundError:
        return 0


class HTTPError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "documentation_url": DOCS}
        if errors is not None:
            self.body["errors"] = errors
        self.headers = headers or {}


def not_found() -> HTTPError:
    return HTTPError(404, "Not Found")


def validation(
    resource: str, *, field_name: str | None = None, code: str = "custom", message: str | None = None
) -> HTTPError:
    error: dict[str, Any] = {"resource": resource, "code": code}
    if field_name:
        error["field"] = field_name
    if message:
        error["message"] = message
    return HTTPError(422, "Validation Failed", [error])


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class Fault:
    remaining: int
    status: int
    message: str
    headers: dict[str, str]
    method: str | None
    path: re.Pattern[str] | None
    body: Any = None


@dataclass
class Repo:
    full_name: str
    id: int
    path: Path
    default_branch: str
    private: bool
    fork_of: str | None = None
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> role name
    spool_offset: int = 0  # how much of the post-receive spool has been read

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/")[1]


@dataclass
class Pull:
    number: int
    id: int
    repo: str
    title: str
    body: str
    user: str
    head_repo: str
    head_ref: str
    base_ref: str
    head_sha: str
    draft: bool = False
    state: str = "open"
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_at: str | None = None
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    mergeable_pending: int = 0
    merge_block: str | None = None
    synced_sha: str | None = None  # what refs/pull/N/head in the base repository points at
    issue_id: int = 0  # the id of the PR's issue (GitHub numbers them apart from the PR's id)


@dataclass
class IssueComment:
    id: int
    repo: str
    number: int
    body: str
    user: str
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    reactions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReviewRecord:
    id: int
    user: str
    state: str
    body: str
    commit_id: str
    submitted_at: str = field(default_factory=_now)


@dataclass
class Installation:
    id: int
    account: str
    repositories: list[str]


@dataclass
class Identity:
    login: str
    kind: str  # "token" | "installation" | "app"
    installation: int | None = None


@dataclass
class Delivery:
    """One webhook delivery: what was sent, and the bot's answer once it was delivered."""

    guid: str
    event: str
    action: str | None
    payload: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    status: int | None = None  # the HTTP status the bot answered; None before delivery or on error
    response_text: str = ""
    error: str | None = None  # connection error or timeout
    done: bool = False

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str | None
    events: frozenset[str]
    client: httpx.Client | None  # e.g. FastAPI's TestClient; None: the stand-in's own client
    hook_id: int

    def wants(self, event: str) -> bool:
        return "*" in self.events or event in self.events


Handler = Callable[..., tuple[int, Any, dict[str, str]]]


class GitHubStandIn(IssuesMixin, OAuthMixin):
    """See the module docstring. Use as a context manager, or call ``start``/``stop``."""

    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_events: Iterable[str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._host = host
        self._lock = threading.RLock()
        self._ids = itertools.count(1001)
        self._repos: dict[str, Repo] = {}
        self._pulls: dict[tuple[str, int], Pull] = {}
        self._issue_numbers: dict[str, int] = {}
        self._plain_issues: dict[tuple[str, int], PlainIssue] = {}  # issues that are not PRs
        self._init_oauth()  # OAuth apps, grants and who approves (github_standin_oauth)
        self._comments: dict[int, IssueComment] = {}
        self._reviews: dict[tuple[str, int], list[ReviewRecord]] = {}
        self._statuses: dict[str, list[dict[str, Any]]] = {}
        self._teams: dict[tuple[str, str], dict[str, str]] = {}
        self._users: dict[str, int] = {}
        self._tokens: dict[str, str] = {}
        self._app_id: str | None = None
        self._app_public_key: str | None = None
        self._app_slug = "gitops-bot"
        self._installations: dict[int, Installation] = {}
        self._installation_tokens: dict[str, tuple[int, float]] = {}
        self.installation_token_lifetime = 3600.0
        self.issued_tokens: list[str] = []
        self._faults: list[Fault] = []
        self._before: list[tuple[str, re.Pattern[str], Callable[[], None]]] = []
        self.requests: list[RecordedRequest] = []
        self._rate_remaining = 5000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = self._build_routes()
        # Webhooks: built under ``_lock`` (a consistent snapshot), sent by one thread in order.
        self._webhook: WebhookTarget | None = None
        self._webhook_client: httpx.Client | None = None
        self._outbox: deque[Delivery] = deque()
        self._outbox_cond = threading.Condition()
        self._sending = 0
        self._sender: threading.Thread | None = None
        self._sender_stop = False
        self.deliveries: list[Delivery] = []
        # Branch protection for pull requests opened from now on (None: merges are allowed).
        self.new_pull_merge_block: str | None = None
        self.webhook_errors: list[str] = []  # failures building a delivery (a stand-in bug)
        if webhook_url is not None:
            self.set_webhook(webhook_url, webhook_secret, events=webhook_events)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> GitHubStandIn:
        self._server, self._thread = serve(self._host, self._dispatch, "github-standin")
        with self._outbox_cond:
            self._sender_stop = False
        self._sender = threading.Thread(target=self._send_loop, name="github-standin-webhooks", daemon=True)
        self._sender.start()
        return self

    def stop(self) -> None:
        """Stop serving. Deliveries still queued are dropped (call ``flush`` first to send them)."""
        if self._sender is not None:
            with self._outbox_cond:
                self._sender_stop = True
                self._outbox_cond.notify_all()
            self._sender.join(timeout=WEBHOOK_TIMEOUT_SECONDS + 5)
            self._sender = None
        if self._webhook_client is not None:
            self._webhook_client.close()
            self._webhook_client = None
        shut(self._server, self._thread)
        self._server = self._thread = None

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def html_base(self) -> str:
        return self.base_url + "/html"

    # -- set-up hooks ------------------------------------------------------------------------------

    def add_token(self, token: str, login: str = "gitops-bot") -> None:
        with self._lock:
            self._tokens[token] = login
            self._user_id(login)

    def configure_app(self, app_id: int | str, public_key_pem: str, *, slug: str = "gitops-bot") -> None:
        with self._lock:
            self._app_id = str(app_id)
            self._app_public_key = public_key_pem
            self._app_slug = slug

    def add_installation(self, installation_id: int, account: str, repositories: list[str]) -> None:
        with self._lock:
            self._installations[installation_id] = Installation(installation_id, account, list(repositories))

    def create_repo(
        self,
        full_name: str,
        files: Mapping[str, str | bytes] | None = None,
        *,
        default_branch: str = "main",
        private: bool = True,
        fork_of: str | None = None,
    ) -> Path:
        """A bare repository with one commit of ``files`` (a fork starts as a copy of its parent)."""
        owner, _, name = full_name.partition("/")
        if not owner or not name:
            raise ValueError("name repositories owner/name")
        path = self.root / "repos" / owner / f"{name}.git"
        path.mkdir(parents=True)
        bare_git.git(path, "init", "-q", "--bare", f"--initial-branch={default_branch}")
        bare_git.install_post_receive_hook(path, POST_RECEIVE_HOOK)
        with self._lock:
            if fork_of is not None:
                parent = self._repos[fork_of]
                bare_git.git(path, "fetch", "-q", str(parent.path), "+refs/heads/*:refs/heads/*")
            repo = Repo(full_name, next(self._ids), path, default_branch, private, fork_of)
            self._repos[full_name] = repo
            self._user_id(owner)
        if fork_of is None:
            bare_git.first_commit(path, default_branch, dict(files or {}), "Initial commit")
        elif files:
            bare_git.commit_files(path, default_branch, dict(files), "Fork changes")
        with self._lock:
            # Creating the repository is set-up, not a push anyone subscribed to.
            repo.spool_offset = _spool_size(path)
        return path

    def repo_path(self, full_name: str) -> Path:
        return self._repo(full_name).path

    def repo_url(self, full_name: str) -> str:
        return self._repo(full_name).path.as_uri()

    def commit(
        self,
        full_name: str,
        branch: str,
        files: Mapping[str, str | bytes | bare_git.SymlinkTo | None],
        message: str = "Change files",
        *,
        start_from: str | None = None,
        author: tuple[str, str] = ("Developer", "dev@example.com"),
        pusher: str = "dev",
    ) -> str:
        """Commit to a branch of the bare repository (created from ``start_from`` or the default branch).

        A push by ``pusher``: with a webhook configured, open PRs from the branch get
        ``synchronize`` (and a ``push`` goes out when subscribed)."""
        repo = self._repo(full_name)
        with self._lock:
            self._collect_pushes()  # earlier pushes are someone else's
        sha = bare_git.commit_files(
            repo.path, branch, files, message, start_from=start_from or repo.default_branch, author=author
        )
        with self._lock:
            self._user_id(pusher)
            self._collect_pushes(pusher=pusher)
        return sha

    def branch_sha(self, full_name: str, branch: str) -> str | None:
        return bare_git.resolve(self._repo(full_name).path, branch)

    def set_permission(self, full_name: str, login: str, role: str | None) -> None:
        """``role``: admin, maintain, write, triage, read, a custom role name, or None to remove."""
        with self._lock:
            repo = self._repo(full_name)
            self._user_id(login)
            if role is None:
                repo.collaborators.pop(login.lower(), None)
            else:
                repo.collaborators[login.lower()] = role

    def add_team_member(
        self, org: str, slug: str, login: str, *, state: str = "active", role: str = "member"
    ) -> None:
        with self._lock:
            self._user_id(login)
            self._teams.setdefault((org.lower(), slug.lower()), {})[login.lower()] = f"{state}:{role}"

    def add_team(self, org: str, slug: str) -> None:
        with self._lock:
            self._teams.setdefault((org.lower(), slug.lower()), {})

    def open_pull_request(
        self,
        full_name: str,
        *,
        head: str,
        base: str | None = None,
        title: str = "Change",
        body: str = "",
        user: str = "dev",
    ) -> int:
        """A PR opened by someone else (``head`` may be ``owner:branch`` of a fork); sends ``opened``."""
        with self._lock:
            self._collect_pushes()
            repo = self._repo(full_name)
            pull = self._create_pull(
                repo, {"head": head, "base": base or repo.default_branch, "title": title, "body": body}, user
            )
            self._emit_pull(pull, "opened", user)
            return pull.number

    def add_review(
        self,
        full_name: str,
        number: int,
        user: str,
        state: str,
        *,
        body: str = "",
        commit_id: str | None = None,
    ) -> int:
        with self._lock:
            pull = self._pull(full_name, number)
            self._user_id(user)
            review = ReviewRecord(
                next(self._ids), user, state.upper(), body, commit_id or self._head_sha(pull)
            )
            self._reviews.setdefault((full_name, number), []).append(review)
            if user.lower() in [r.lower() for r in pull.requested_reviewers]:
                pull.requested_reviewers = [r for r in pull.requested_reviewers if r.lower() != user.lower()]
            return review.id

    def dismiss_review(self, full_name: str, number: int, review_id: int) -> None:
        with self._lock:
            for review in self._reviews.get((full_name, number), []):
                if review.id == review_id:
                    review.state = "DISMISSED"
                    return
            raise KeyError(review_id)

    def set_mergeable_pending(self, full_name: str, number: int, reads: int) -> None:
        """The next ``reads`` reads of the PR answer ``mergeable: null`` (still computing)."""
        with self._lock:
            self._pull(full_name, number).mergeable_pending = reads

    def block_merge(self, full_name: str, number: int, message: str | None) -> None:
        """Branch protection: merging answers 405 with ``message`` (None lifts it)."""
        with self._lock:
            self._pull(full_name, number).merge_block = message

    # -- acting as a user ----------------------------------------------------------------------

    def post_comment_as(self, user: str, full_name: str, number: int, body: str) -> int:
        """``user`` comments on the PR (e.g. ``/gitops plan``); sends ``issue_comment`` ``created``.

        Returns the comment id. A body GitHub would refuse raises :class:`HTTPError` (422)."""
        with self._lock:
            self._collect_pushes()
            self._user_id(user)
            self._issue(full_name, number)
            comment = IssueComment(
                next(self._ids),
                self._repo(full_name).full_name,
                number,
                self._check_comment_body({"body": body}),
                user,
            )
            self._comments[comment.id] = comment
            self._emit_comment(comment, "created", user)
            return comment.id

    def merge_pull_request(
        self,
        full_name: str,
        number: int,
        *,
        method: str = "merge",
        user: str = "dev",
        commit_title: str | None = None,
        commit_message: str | None = None,
    ) -> str:
        """``user`` presses the merge button: a real merge (``merge``, ``squash`` or ``rebase``) and
        the ``pull_request`` ``closed`` webhook with ``merged: true``. Returns the new base tip.
        A refusal (conflict, protection, closed PR) raises :class:`HTTPError` as the API answers."""
        options: dict[str, Any] = {"merge_method": method}
        if commit_title is not None:
            options["commit_title"] = commit_title
        if commit_message is not None:
            options["commit_message"] = commit_message
        with self._lock:
            self._collect_pushes()
            self._user_id(user)
            pull = self._pull(full_name, number)
            return self._merge(pull, options, user)

    # -- webhooks ----------------------------------------------------------------------------------

    def set_webhook(
        self,
        url: str | None,
        secret: str | None = None,
        *,
        events: Iterable[str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        """Send webhooks to ``url`` (None switches them off), signed with ``secret`` when given.

        ``events``: names to subscribe to (default ``pull_request`` and ``issue_comment``; add
        ``push``, or ``"*"`` for all). ``client``: an ``httpx.Client`` to send through, e.g.
        FastAPI's ``TestClient`` (then ``url`` may be a path such as ``/webhooks/github``).
        Pushes made before this call are not announced."""
        with self._lock:
            if self._webhook_client is not None:
                self._webhook_client.close()
                self._webhook_client = None
            if url is None:
                self._webhook = None
                return
            for repo in self._repos.values():
                repo.spool_offset = _spool_size(repo.path)
            self._webhook = WebhookTarget(
                url=url,
                secret=secret,
                events=frozenset(DEFAULT_WEBHOOK_EVENTS if events is None else events),
                client=client,
                hook_id=next(self._ids),
            )

    def flush(self, timeout: float = 30.0) -> list[Delivery]:
        """Announce pushes not seen yet, then wait until every queued delivery has been sent.

        Returns every delivery so far. Raises ``TimeoutError`` past ``timeout`` and
        ``RuntimeError`` if building a webhook failed (a stand-in bug, made visible)."""
        with self._lock:
            self._collect_pushes()
            if self.webhook_errors:
                raise RuntimeError("building a webhook failed: " + "; ".join(self.webhook_errors))
        deadline = time.monotonic() + timeout
        with self._outbox_cond:
            while self._outbox or self._sending:
                if self._sender is None:
                    raise RuntimeError("the stand-in is not started: nothing sends webhooks")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self._outbox) + self._sending} webhook deliveries still pending"
                    )
                self._outbox_cond.wait(left)
            return list(self.deliveries)

    def deliveries_of(self, event: str, action: str | None = None) -> list[Delivery]:
        with self._outbox_cond:
            return [d for d in self.deliveries if d.event == event and (action is None or d.action == action)]

    def redeliver(self, delivery: Delivery) -> Delivery:
        """Send ``delivery`` again, same GUID and body (GitHub's "Redeliver" button)."""
        again = Delivery(
            delivery.guid,
            delivery.event,
            delivery.action,
            delivery.payload,
            delivery.body,
            dict(delivery.headers),
        )
        self._enqueue(again)
        return again

    def _enqueue(self, delivery: Delivery) -> None:
        with self._outbox_cond:
            self.deliveries.append(delivery)
            self._outbox.append(delivery)
            self._outbox_cond.notify_all()

    def _send_loop(self) -> None:
        while True:
            with self._outbox_cond:
                while not self._outbox and not self._sender_stop:
                    self._outbox_cond.wait()
                if self._sender_stop:
                    return
                delivery = self._outbox.popleft()
                target = self._webhook
                self._sending += 1
            try:
                self._deliver(delivery, target)
            finally:
                with self._outbox_cond:
                    delivery.done = True
                    self._sending -= 1
                    self._outbox_cond.notify_all()

    def _deliver(self, delivery: Delivery, target: WebhookTarget | None) -> None:
        if target is None:
            delivery.error = "the webhook was switched off before this delivery was sent"
            return
        client = target.client
        if client is None:
            with self._lock:
                if self._webhook_client is None:
                    self._webhook_client = httpx.Client(timeout=WEBHOOK_TIMEOUT_SECONDS)
                client = self._webhook_client
        try:
            response = client.post(target.url, content=delivery.body, headers=delivery.headers)
        except Exception as error:  # a refused connection or a timeout is recorded, as GitHub does
            delivery.error = f"{type(error).__name__}: {error}"
            return
        delivery.status = response.status_code
        delivery.response_text = response.text

    def _emit(self, event: str, action: str | None, payload: dict[str, Any]) -> Delivery | None:
        """Queue one delivery (called under ``_lock``, so the payload is a consistent snapshot)."""
        target = self._webhook
        if target is None or not target.wants(event):
            return None
        body = json.dumps(payload).encode()
        guid = str(uuid.uuid4())
        installation = payload.get("installation")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/standin",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": guid,
            "X-GitHub-Hook-ID": str(target.hook_id),
            "X-GitHub-Hook-Installation-Target-Type": "integration" if installation else "repository",
            "X-GitHub-Hook-Installation-Target-ID": str(
                self._app_id if installation and self._app_id else payload["repository"]["id"]
            ),
        }
        if target.secret is not None:
            key = target.secret.encode()
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        delivery = Delivery(guid, event, action, payload, body, headers)
        self._enqueue(delivery)
        return delivery

    def _envelope(self, repo: Repo, actor: str) -> dict[str, Any]:
        """What every repository event carries after its own fields."""
        data: dict[str, Any] = {"repository": self._repo_json(repo), "sender": self._user_json(actor)}
        for installation in sorted(self._installations.values(), key=lambda i: i.id):
            if repo.full_name.lower() in [r.lower() for r in installation.repositories]:
                data["installation"] = {
                    "id": installation.id,
                    "node_id": base64.b64encode(f"023:Installation{installation.id}".encode()).decode(),
                }
                break
        return data

    def _emit_pull(self, pull: Pull, action: str, actor: str, **fields: Any) -> None:
        if self._webhook is None or not self._webhook.wants("pull_request"):
            return
        repo = self._repo(pull.repo)
        payload = {
            "action": action,
            "number": pull.number,
            **fields,
            "pull_request": self._pull_json(pull, full=True, for_webhook=True),
            **self._envelope(repo, actor),
        }
        self._emit("pull_request", action, payload)

    def _emit_comment(self, comment: IssueComment, action: str, actor: str, **fields: Any) -> None:
        if self._webhook is None or not self._webhook.wants("issue_comment"):
            return
        repo = self._repo(comment.repo)
        pull = self._pull(comment.repo, comment.number)
        payload = {
            "action": action,
            **fields,
            "issue": self._issue_json(pull),
            "comment": self._comment_json(comment),
            **self._envelope(repo, actor),
        }
        self._emit("issue_comment", action, payload)

    def _default_pusher(self) -> str:
        """Who pushed when the stand-in cannot tell (a push over git): the bot's own identity."""
        if self._installations and self._app_id is not None:
            return f"{self._app_slug}[bot]"
        return next(iter(self._tokens.values()), "ghost")

    def _collect_pushes(self, *, pusher: str | None = None) -> None:
        """Read every repository's post-receive spool and announce the new ref updates (under ``_lock``)."""
        if self._webhook is None:
            return
        for repo in list(self._repos.values()):
            size = _spool_size(repo.path)
            if size <= repo.spool_offset:
                continue
            with (repo.path / PUSH_SPOOL).open("rb") as spool:
                spool.seek(repo.spool_offset)
                data = spool.read(size - repo.spool_offset)
            complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
            repo.spool_offset += len(complete)
            for line in complete.decode().splitlines():
                parts = line.split()
                if len(parts) != 3:
                    continue
                try:
                    self._announce_push(repo, *parts, pusher=pusher or self._default_pusher())
                except Exception as error:  # keep serving the API; flush() reports it
                    self.webhook_errors.append(f"{repo.full_name} {line}: {type(error).__name__}: {error}")

    def _announce_push(self, repo: Repo, old: str, new: str, ref: str, *, pusher: str) -> None:
        if self._webhook is not None and self._webhook.wants("push"):
            self._emit("push", None, self._push_payload(repo, old, new, ref, pusher))
        branch_prefix = "refs/heads/"
        if not ref.startswith(branch_prefix) or new == ZERO_SHA:
            return
        branch = ref[len(branch_prefix) :]
        for pull in list(self._pulls.values()):
            if pull.state != "open" or pull.head_repo != repo.full_name or pull.head_ref != branch:
                continue
            before = pull.head_sha if pull.head_sha != new else old
            pull.head_sha = new
            pull.updated_at = _now()
            self._sync_pull_ref(pull)
            self._emit_pull(pull, "synchronize", pusher, before=before, after=new)

    def _push_payload(self, repo: Repo, old: str, new: str, ref: str, pusher: str) -> dict[str, Any]:
        created, deleted = old == ZERO_SHA, new == ZERO_SHA
        commits: list[dict[str, Any]] = []
        forced = False
        if not deleted:
            forced = not created and bare_git.merge_base(repo.path, old, new) != old
            commits = [
                self._push_commit_json(repo, sha)
                for sha in bare_git.commits_between(
                    repo.path, None if created else old, new, ref=ref, limit=2048
                )
            ]
        compare = f"{self.html_base}/{repo.full_name}/compare/{old[:12]}...{new[:12]}"
        user = self._user_json(pusher)
        return {
            "ref": ref,
            "before": old,
            "after": new,
            "created": created,
            "deleted": deleted,
            "forced": forced,
            "base_ref": None,
            "compare": compare,
            "commits": commits,
            "head_commit": commits[-1] if commits else None,
            "pusher": {"name": pusher, "email": f"{user['id']}+{pusher}@users.noreply.github.com"},
            **self._envelope(repo, pusher),
        }

    def _push_commit_json(self, repo: Repo, sha: str) -> dict[str, Any]:
        info = bare_git.commit_info(repo.path, sha)
        return {
            "id": sha,
            "tree_id": info.tree,
            "distinct": True,
            "message": info.message,
            "timestamp": info.timestamp,
            "url": f"{self.html_base}/{repo.full_name}/commit/{sha}",
            "author": {"name": info.author_name, "email": info.author_email},
            "committer": {"name": info.committer_name, "email": info.committer_email},
            "added": list(info.added),
            "removed": list(info.removed),
            "modified": list(info.modified),
        }

    # -- faults ------------------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 502,
        message: str = "Server Error",
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        method: str | None = None,
        path: str | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` (``path`` is a regex).

        The body is GitHub's error shape with ``message``, or ``body`` when given (a canned answer,
        e.g. ``status=200, body=[]`` to hide existing PRs from one listing).
        """
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = (
                str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
            )
        with self._lock:
            self._faults.append(
                Fault(
                    count,
                    status,
                    message,
                    extra,
                    method.upper() if method else None,
                    re.compile(path) if path else None,
                    body,
                )
            )

    def before_next(self, method: str, path: str, action: Callable[[], None]) -> None:
        """Run ``action`` once, before answering the next request matching ``method`` and ``path``
        (a regex): something that happens elsewhere while the caller waits for GitHub (another
        webhook arriving, say). It runs outside the stand-in's lock, so it may call the stand-in."""
        with self._lock:
            self._before.append((method.upper(), re.compile(path), action))

    def _run_before(self, method: str, path: str) -> None:
        with self._lock:
            due = next((hook for hook in self._before if hook[0] == method and hook[1].search(path)), None)
            if due is not None:
                self._before.remove(due)
        if due is not None:
            due[2]()

    def rate_limit_next(self, count: int = 1, *, retry_after: float | None = None, **match: Any) -> None:
        self.fail_next(
            count, status=429, message=SECONDARY_RATE_LIMIT_MESSAGE, retry_after=retry_after, **match
        )

    def secondary_rate_limit_next(
        self, count: int = 1, *, retry_after: float | None = None, **match: Any
    ) -> None:
        self.fail_next(
            count, status=403, message=SECONDARY_RATE_LIMIT_MESSAGE, retry_after=retry_after, **match
        )

    # -- read-back ---------------------------------------------------------------------------------

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        with self._lock:
            return [r for r in self.requests if r.method == method.upper() and pattern.search(r.path)]

    def pull(self, full_name: str, number: int) -> Pull:
        with self._lock:
            return self._pull(full_name, number)

    def pulls(self, full_name: str) -> list[Pull]:
        with self._lock:
            return [p for (repo, _), p in sorted(self._pulls.items()) if repo == full_name]

    def comments(self, full_name: str, number: int) -> list[IssueComment]:
        with self._lock:
            return [c for c in self._comments.values() if c.repo == full_name and c.number == number]

    def reactions(self, comment_id: int) -> list[str]:
        with self._lock:
            return [r["content"] for r in self._comments[comment_id].reactions]

    def statuses(self, full_name: str, sha: str) -> list[dict[str, Any]]:
        with self._lock:
            return [s for s in self._statuses.get(full_name, []) if s["sha"] == sha]

    def labels(self, full_name: str, number: int) -> list[str]:
        with self._lock:
            return list(self._pull(full_name, number).labels)

    # -- internals: state --------------------------------------------------------------------------

    def _user_id(self, login: str) -> int:
        key = login.lower()
        if key not in self._users:
            self._users[key] = next(self._ids)
        return self._users[key]

    def _repo(self, full_name: str) -> Repo:
        for name, repo in self._repos.items():
            if name.lower() == full_name.lower():
                return repo
        raise not_found()

    def _pull(self, full_name: str, number: int) -> Pull:
        repo = self._repo(full_name)
        pull = self._pulls.get((repo.full_name, number))
        if pull is None:
            raise not_found()
        return pull

    def _head_sha(self, pull: Pull) -> str:
        """Live head for an open PR (pushes move it), frozen once it is closed."""
        if pull.state == "open":
            current = bare_git.branch(self._repo(pull.head_repo).path, pull.head_ref)
            if current and current != pull.head_sha:
                pull.head_sha = current
                pull.updated_at = _now()
            self._sync_pull_ref(pull)
        return pull.head_sha

    def _sync_pull_ref(self, pull: Pull) -> None:
        if pull.synced_sha == pull.head_sha:
            return
        pull.synced_sha = pull.head_sha
        base = self._repo(pull.repo)
        target = f"refs/pull/{pull.number}/head"
        if pull.head_repo == pull.repo:
            bare_git.git(base.path, "update-ref", target, pull.head_sha)
        else:
            bare_git.git(
                base.path, "fetch", "-q", str(self._repo(pull.head_repo).path), f"+{pull.head_sha}:{target}"
            )

    def _create_pull(self, repo: Repo, data: Mapping[str, Any], user: str) -> Pull:
        title, head, base = data.get("title"), data.get("head"), data.get("base")
        if not isinstance(head, str) or not head:
            raise validation("PullRequest", field_name="head", code="missing_field")
        if not isinstance(base, str) or not base:
            raise validation("PullRequest", field_name="base", code="missing_field")
        if not isinstance(title, str) or not title.strip():
            raise validation("PullRequest", field_name="title", code="missing_field")
        self._check_pull_body(data.get("body"))
        head_owner, _, head_ref = head.rpartition(":")
        head_repo = repo
        if head_owner and head_owner.lower() != repo.owner.lower():
            forks = [
                r
                for r in self._repos.values()
                if r.owner.lower() == head_owner.lower() and r.fork_of == repo.full_name
            ]
            if not forks:
                raise validation("PullRequest", field_name="head", code="invalid")
            head_repo = forks[0]
        head_sha = bare_git.branch(head_repo.path, head_ref)
        if head_sha is None:
            raise validation("PullRequest", field_name="head", code="invalid")
        base_sha = bare_git.branch(repo.path, base)
        if base_sha is None:
            raise validation("PullRequest", field_name="base", code="invalid")
        for other in self._pulls.values():
            if (
                other.repo == repo.full_name
                and other.state == "open"
                and other.head_repo == head_repo.full_name
                and other.head_ref == head_ref
                and other.base_ref == base
            ):
                raise validation(
                    "PullRequest", message=f"A pull request already exists for {head_repo.owner}:{head_ref}."
                )
        if head_repo is not repo:
            bare_git.git(repo.path, "fetch", "-q", str(head_repo.path), head_sha)
        if bare_git.merge_base(repo.path, base_sha, head_sha) == head_sha:
            raise validation("PullRequest", message=f"No commits between {base} and {head_ref}")
        number = self._issue_numbers.get(repo.full_name, 0) + 1
        self._issue_numbers[repo.full_name] = number
        pull = Pull(
            number=number,
            id=next(self._ids),
            repo=repo.full_name,
            title=title,
            body=str(data.get("body") or ""),
            user=user,
            head_repo=head_repo.full_name,
            head_ref=head_ref,
            base_ref=base,
            head_sha=head_sha,
            draft=bool(data.get("draft", False)),
            issue_id=next(self._ids),
        )
        self._pulls[(repo.full_name, number)] = pull
        pull.merge_block = self.new_pull_merge_block
        self._sync_pull_ref(pull)
        return pull

    # -- internals: JSON in GitHub's shapes ---------------------------------------------------------

    def _user_json(self, login: str) -> dict[str, Any]:
        bot = login.endswith("[bot]")
        return {
            "login": login,
            "id": self._user_id(login),
            "node_id": f"U_{self._user_id(login)}",
            "url": f"{self.base_url}/users/{login}",
            "html_url": f"{self.html_base}/{login}",
            "type": "Bot" if bot else "User",
            "site_admin": False,
        }

    def _repo_json(self, repo: Repo) -> dict[str, Any]:
        url = f"{self.base_url}/repos/{repo.full_name}"
        return {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self._user_json(repo.owner),
            "private": repo.private,
            "fork": repo.fork_of is not None,
            "html_url": f"{self.html_base}/{repo.full_name}",
            "url": url,
            "pulls_url": f"{url}/pulls{{/number}}",
            "issues_url": f"{url}/issues{{/number}}",
            "contents_url": f"{url}/contents/{{+path}}",
            "clone_url": repo.path.as_uri(),
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
        }

    def _label_json(self, repo: Repo, name: str) -> dict[str, Any]:
        label = repo.labels.setdefault(
            name.lower(),
            {"id": next(self._ids), "name": name, "color": "ededed", "default": False, "description": None},
        )
        return {
            **label,
            "node_id": f"LA_{label['id']}",
            "url": f"{self.base_url}/repos/{repo.full_name}/labels/{urllib.parse.quote(label['name'])}",
        }

    def _mergeability(self, pull: Pull) -> tuple[bool | None, str]:
        if pull.state != "open":
            return None, "unknown"
        if pull.mergeable_pending > 0:
            pull.mergeable_pending -= 1
            return None, "unknown"
        repo = self._repo(pull.repo)
        base_sha = bare_git.branch(repo.path, pull.base_ref)
        if base_sha is None or bare_git.has_conflicts(repo.path, base_sha, self._head_sha(pull)):
            return False, "dirty"
        if pull.draft:
            return True, "draft"
        if pull.merge_block:
            return True, "blocked"
        return True, "clean"

    def _pull_json(self, pull: Pull, *, full: bool, for_webhook: bool = False) -> dict[str, Any]:
        repo = self._repo(pull.repo)
        head_repo = self._repos.get(pull.head_repo)
        url = f"{self.base_url}/repos/{repo.full_name}/pulls/{pull.number}"
        issue_url = f"{self.base_url}/repos/{repo.full_name}/issues/{pull.number}"
        head_sha = self._head_sha(pull)
        base_sha = bare_git.branch(repo.path, pull.base_ref) or ""
        data: dict[str, Any] = {
            "url": url,
            "id": pull.id,
            "node_id": f"PR_{pull.id}",
            "html_url": f"{self.html_base}/{repo.full_name}/pull/{pull.number}",
            "diff_url": f"{self.html_base}/{repo.full_name}/pull/{pull.number}.diff",
            "issue_url": issue_url,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": f"{self.base_url}/repos/{repo.full_name}/statuses/{head_sha}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self._user_json(pull.user),
            "body": pull.body or None,
            "labels": [self._label_json(repo, name) for name in pull.labels],
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "closed_at": pull.closed_at,
            "merged_at": pull.merged_at,
            "merge_commit_sha": pull.merge_commit_sha,
            "assignees": [],
            "requested_reviewers": [self._user_json(login) for login in pull.requested_reviewers],
            "requested_teams": [self._team_json(repo.owner, slug) for slug in pull.requested_teams],
            "draft": pull.draft,
            "head": {
                "label": f"{pull.head_repo.split('/')[0]}:{pull.head_ref}",
                "ref": pull.head_ref,
                "sha": head_sha,
                "user": self._user_json(pull.head_repo.split("/")[0]),
                "repo": self._repo_json(head_repo) if head_repo else None,
            },
            "base": {
                "label": f"{repo.owner}:{pull.base_ref}",
                "ref": pull.base_ref,
                "sha": base_sha,
                "user": self._user_json(repo.owner),
                "repo": self._repo_json(repo),
            },
            "author_association": self._association(repo, pull.user),
            "auto_merge": None,
        }
        if full:
            # A webhook carries mergeability as "not computed yet" (and must not use up the
            # reads ``set_mergeable_pending`` scripted for the API).
            mergeable, mergeable_state = (None, "unknown") if for_webhook else self._mergeability(pull)
            data.update(
                {
                    "merged": pull.merged,
                    "mergeable": mergeable,
                    "rebaseable": mergeable,
                    "mergeable_state": mergeable_state,
                    "merged_by": self._user_json(pull.merged_by) if pull.merged_by else None,
                    "comments": len(
                        [
                            c
                            for c in self._comments.values()
                            if c.repo == repo.full_name and c.number == pull.number
                        ]
                    ),
                    "review_comments": 0,
                    "maintainer_can_modify": False,
                    "commits": 1,
                    "additions": 0,
                    "deletions": 0,
                    "changed_files": 0,
                }
            )
        return data

    def _team_json(self, org: str, slug: str) -> dict[str, Any]:
        return {
            "id": abs(hash((org, slug))) % 10**6,
            "node_id": f"T_{slug}",
            "slug": slug,
            "name": slug,
            "url": f"{self.base_url}/orgs/{org}/teams/{slug}",
            "html_url": f"{self.html_base}/orgs/{org}/teams/{slug}",
        }

    def _association(self, repo: Repo, login: str) -> str:
        if login.lower() == repo.owner.lower():
            return "OWNER"
        return "COLLABORATOR" if login.lower() in repo.collaborators else "NONE"

    def _comment_json(self, comment: IssueComment) -> dict[str, Any]:
        repo = self._repo(comment.repo)
        url = f"{self.base_url}/repos/{repo.full_name}/issues/comments/{comment.id}"
        return {
            "id": comment.id,
            "node_id": f"IC_{comment.id}",
            "url": url,
            "html_url": f"{self.html_base}/{repo.full_name}/pull/{comment.number}#issuecomment-{comment.id}",
            "issue_url": f"{self.base_url}/repos/{repo.full_name}/issues/{comment.number}",
            "body": comment.body,
            "user": self._user_json(comment.user),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "author_association": self._association(repo, comment.user),
        }

    def _issue_json(self, pull: Pull) -> dict[str, Any]:
        """The PR as an issue (what ``issue_comment`` webhooks carry): ``pull_request`` marks it."""
        repo = self._repo(pull.repo)
        url = f"{self.base_url}/repos/{repo.full_name}/issues/{pull.number}"
        html = f"{self.html_base}/{repo.full_name}/pull/{pull.number}"
        comments = [
            c for c in self._comments.values() if c.repo == repo.full_name and c.number == pull.number
        ]
        return {
            "url": url,
            "repository_url": f"{self.base_url}/repos/{repo.full_name}",
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": html,
            "id": pull.issue_id or pull.id,
            "node_id": f"I_{pull.issue_id or pull.id}",
            "number": pull.number,
            "title": pull.title,
            "user": self._user_json(pull.user),
            "labels": [self._label_json(repo, name) for name in pull.labels],
            "state": pull.state,
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": len(comments),
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "closed_at": pull.closed_at,
            "author_association": self._association(repo, pull.user),
            "active_lock_reason": None,
            "draft": pull.draft,
            "pull_request": {
                "url": f"{self.base_url}/repos/{repo.full_name}/pulls/{pull.number}",
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": pull.merged_at,
            },
            "body": pull.body or None,
            "state_reason": None,
            "timeline_url": f"{url}/timeline",
            "performed_via_github_app": None,
        }

    def _review_json(self, full_name: str, number: int, review: ReviewRecord) -> dict[str, Any]:
        return {
            "id": review.id,
            "node_id": f"PRR_{review.id}",
            "user": self._user_json(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": f"{self.html_base}/{full_name}/pull/{number}#pullrequestreview-{review.id}",
            "pull_request_url": f"{self.base_url}/repos/{full_name}/pulls/{number}",
            "commit_id": review.commit_id,
            "submitted_at": review.submitted_at,
            "author_association": "COLLABORATOR",
        }

    # -- internals: HTTP ---------------------------------------------------------------------------

    def _dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parsed = urllib.parse.urlsplit(raw_path)
        path = parsed.path
        oauth = self._oauth_dispatch(method, path, parsed.query, headers, raw)  # the web flow's paths
        if oauth is not None:
            return oauth
        query = urllib.parse.parse_qs(parsed.query)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self._run_before(method, path)
        with self._lock:
            self._rate_remaining = max(self._rate_remaining - 1, 0)
            response_headers = {
                "Content-Type": "application/json; charset=utf-8",
                "X-GitHub-Media-Type": "github.v3; format=json",
                "X-GitHub-Request-Id": f"STANDIN:{next(self._ids)}",
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": str(self._rate_remaining),
                "X-RateLimit-Used": str(5000 - self._rate_remaining),
                "X-RateLimit-Reset": str(int(time.time()) + 3600),
                "X-RateLimit-Resource": "core",
            }
            # Pushes over git since the last request: announce them before answering, as GitHub
            # would have by the time the pusher calls the API.
            self._collect_pushes()
            try:
                if raw and body is None:
                    raise HTTPError(400, "Problems parsing JSON")
                self._inject_fault(method, path)
                identity = self._authenticate(headers, path)
                status, payload, extra = self._route(method, path, query, body, identity)
            except HTTPError as error:
                status, payload, extra = error.status, error.body, error.headers
            except bare_git.GitFailed as error:  # a stand-in bug, made visible to the test
                status, payload, extra = 500, {"message": str(error)}, {}
            response_headers.update(extra)
            lowered = {k.lower(): v for k, v in headers.items()}
            self.requests.append(RecordedRequest(method, path, query, lowered, body, status))
        data = b"" if payload is None else json.dumps(payload).encode()
        if payload is None:
            response_headers.pop("Content-Type", None)
        return status, response_headers, data

    def _inject_fault(self, method: str, path: str) -> None:
        for fault in self._faults:
            if fault.remaining <= 0:
                continue
            if fault.method and fault.method != method:
                continue
            if fault.path and not fault.path.search(path):
                continue
            fault.remaining -= 1
            headers = dict(fault.headers)
            if fault.status in (403, 429):
                headers.setdefault("X-RateLimit-Remaining", str(self._rate_remaining))
            error = HTTPError(fault.status, fault.message, headers=headers)
            if fault.body is not None:
                error.body = fault.body
            raise error

    def _authenticate(self, headers: dict[str, str], path: str) -> Identity:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get("authorization", "")
        scheme, _, credential = value.partition(" ")
        credential = credential.strip()
        app_path = (
            path.startswith("/app/")
            or path == "/app"
            or re.fullmatch(r"/repos/[^/]+/[^/]+/installation", path)
        )
        if scheme.lower() == "bearer" and credential.count(".") == 2:
            if not app_path:
                raise HTTPError(401, "A JSON web token could not be decoded")
            return self._verify_jwt(credential)
        if app_path and not re.fullmatch(r"/repos/[^/]+/[^/]+/installation", path):
            raise HTTPError(401, "A JSON web token could not be decoded")
        if credential in self._tokens:
            return Identity(self._tokens[credential], "token")
        if credential in self._installation_tokens:
            installation, expires = self._installation_tokens[credential]
            if expires < time.time():
                raise HTTPError(401, "Bad credentials")
            return Identity(f"{self._app_slug}[bot]", "installation", installation)
        raise HTTPError(401, "Requires authentication" if not value else "Bad credentials")

    def _verify_jwt(self, token: str) -> Identity:
        if self._app_public_key is None:
            raise HTTPError(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(
                token,
                self._app_public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise HTTPError(401, "'Expiration time' claim ('exp') is too far in the future") from None
        except jwt.PyJWTError:
            raise HTTPError(401, "A JSON web token could not be decoded") from None
        if str(claims.get("iss")) != self._app_id:
            raise HTTPError(401, "'Issuer' claim ('iss') must be an Integer")
        if claims["exp"] - claims["iat"] > 660:
            raise HTTPError(401, "'Expiration time' claim ('exp') is too far in the future")
        return Identity(self._app_slug, "app")

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, identity: Identity
    ) -> tuple[int, Any, dict[str, str]]:
        matched_path = False
        for verb, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            matched_path = True
            if verb != method:
                continue
            params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
            if "owner" in params:
                full_name = f"{params.pop('owner')}/{params.pop('repo')}"
                self._check_access(identity, full_name)
                params["full_name"] = self._repo(full_name).full_name
            return handler(query=query, body=body if body is not None else {}, identity=identity, **params)
        if matched_path:
            raise HTTPError(404, "Not Found")
        raise not_found()

    def _check_access(self, identity: Identity, full_name: str) -> None:
        if identity.kind == "installation":
            installation = self._installations.get(identity.installation or -1)
            if installation is None or full_name.lower() not in [
                r.lower() for r in installation.repositories
            ]:
                raise not_found()
        self._repo(full_name)

    def _paginate(
        self, items: list[Any], query: dict[str, list[str]], path: str
    ) -> tuple[int, Any, dict[str, str]]:
        try:
            per_page = min(max(int(query.get("per_page", ["30"])[0]), 1), 100)
            page = max(int(query.get("page", ["1"])[0]), 1)
        except ValueError:
            raise HTTPError(422, "Invalid pagination parameters") from None
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def link(number: int, rel: str) -> str:
            params = {k: v[0] for k, v in query.items()}
            params.update({"per_page": str(per_page), "page": str(number)})
            return f'<{self.base_url}{path}?{urllib.parse.urlencode(params)}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
        table: list[tuple[str, str, Handler]] = [
            ("POST", r"/app/installations/(?P<installation_id>\d+)/access_tokens", self._h_access_token),
            ("GET", r"/app/installations", self._h_installations),
            ("GET", rf"{repo}/installation", self._h_repo_installation),
            ("GET", r"/installation/repositories", self._h_installation_repositories),
            ("GET", rf"{repo}", self._h_repo),
            ("GET", rf"{repo}/contents(?:/(?P<path>.*))?", self._h_contents),
            ("GET", rf"{repo}/git/blobs/(?P<sha>[0-9a-f]{{40}})", self._h_blob),
            ("GET", rf"{repo}/pulls", self._h_list_pulls),
            ("POST", rf"{repo}/pulls", self._h_create_pull),
            ("GET", rf"{repo}/pulls/(?P<number>\d+)", self._h_get_pull),
            ("PATCH", rf"{repo}/pulls/(?P<number>\d+)", self._h_edit_pull),
            ("GET", rf"{repo}/pulls/(?P<number>\d+)/files", self._h_pull_files),
            ("PUT", rf"{repo}/pulls/(?P<number>\d+)/merge", self._h_merge),
            ("GET", rf"{repo}/pulls/(?P<number>\d+)/merge", self._h_is_merged),
            ("GET", rf"{repo}/pulls/(?P<number>\d+)/reviews", self._h_reviews),
            ("POST", rf"{repo}/pulls/(?P<number>\d+)/requested_reviewers", self._h_request_reviewers),
            ("GET", rf"{repo}/pulls/(?P<number>\d+)/requested_reviewers", self._h_requested_reviewers),
            ("GET", rf"{repo}/issues/(?P<number>\d+)/labels", self._h_labels),
            ("POST", rf"{repo}/issues/(?P<number>\d+)/labels", self._h_add_labels),
            ("GET", rf"{repo}/issues/(?P<number>\d+)/comments", self._h_list_comments),
            ("POST", rf"{repo}/issues/(?P<number>\d+)/comments", self._h_create_comment),
            ("GET", rf"{repo}/issues/comments/(?P<comment_id>\d+)", self._h_get_comment),
            ("PATCH", rf"{repo}/issues/comments/(?P<comment_id>\d+)", self._h_edit_comment),
            ("POST", rf"{repo}/issues/comments/(?P<comment_id>\d+)/reactions", self._h_reaction),
            ("POST", rf"{repo}/statuses/(?P<sha>[^/]+)", self._h_create_status),
            ("GET", rf"{repo}/commits/(?P<ref>[^/]+)/statuses", self._h_list_statuses),
            ("GET", rf"{repo}/collaborators/(?P<login>[^/]+)/permission", self._h_permission),
            (
                "GET",
                r"/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)/memberships/(?P<login>[^/]+)",
                self._h_membership,
            ),
        ]
        table += self._issue_routes(repo)
        table += self._oauth_api_routes()
        return [(verb, re.compile(pattern), handler) for verb, pattern, handler in table]

    # -- handlers: App -----------------------------------------------------------------------------

    def _h_access_token(
        self, *, installation_id: str, identity: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        installation = self._installations.get(int(installation_id))
        if installation is None:
            raise not_found()
        token = f"ghs_standin{next(self._ids)}"
        expires = time.time() + self.installation_token_lifetime
        self._installation_tokens[token] = (installation.id, expires)
        self.issued_tokens.append(token)
        return (
            201,
            {
                "token": token,
                "expires_at": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": {
                    "contents": "write",
                    "pull_requests": "write",
                    "issues": "write",
                    "statuses": "write",
                },
                "repository_selection": "selected",
            },
            {},
        )

    def _installation_json(self, installation: Installation) -> dict[str, Any]:
        return {
            "id": installation.id,
            "account": self._user_json(installation.account),
            "app_id": int(self._app_id or 0),
            "app_slug": self._app_slug,
            "target_type": "Organization",
            "repository_selection": "selected",
            "access_tokens_url": f"{self.base_url}/app/installations/{installation.id}/access_tokens",
            "repositories_url": f"{self.base_url}/installation/repositories",
            "html_url": f"{self.html_base}/settings/installations/{installation.id}",
        }

    def _h_installations(self, *, query: dict[str, list[str]], **_: Any) -> tuple[int, Any, dict[str, str]]:
        items = [self._installation_json(i) for i in sorted(self._installations.values(), key=lambda i: i.id)]
        return self._paginate(items, query, "/app/installations")

    def _h_repo_installation(
        self, *, full_name: str, identity: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if identity.kind != "app":
            raise HTTPError(401, "A JSON web token could not be decoded")
        for installation in self._installations.values():
            if full_name.lower() in [r.lower() for r in installation.repositories]:
                return 200, self._installation_json(installation), {}
        raise not_found()

    def _h_installation_repositories(
        self, *, query: dict[str, list[str]], identity: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if identity.kind != "installation":
            raise HTTPError(
                403,
                "You must authenticate with an installation access token in order to list repositories "
                "for an installation.",
            )
        installation = self._installations[identity.installation or -1]
        repos = [
            self._repo_json(self._repo(name)) for name in installation.repositories if name in self._repos
        ]
        status, page, headers = self._paginate(repos, query, "/installation/repositories")
        return (
            status,
            {"total_count": len(repos), "repository_selection": "selected", "repositories": page},
            headers,
        )

    # -- handlers: repository and contents ---------------------------------------------------------

    def _h_repo(self, *, full_name: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, self._repo_json(self._repo(full_name)), {}

    def _content_json(
        self, repo: Repo, entry: bare_git.TreeEntry, ref: str, *, with_content: bool
    ) -> dict[str, Any]:
        kind = {"blob": "file", "tree": "dir", "commit": "submodule"}[entry.kind]
        if entry.mode == "120000":
            kind = "symlink"
        quoted = urllib.parse.quote(entry.path)
        url = f"{self.base_url}/repos/{repo.full_name}/contents/{quoted}?ref={urllib.parse.quote(ref)}"
        git_url = (
            f"{self.base_url}/repos/{repo.full_name}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}"
        )
        html_url = f"{self.html_base}/{repo.full_name}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{quoted}"
        data: dict[str, Any] = {
            "type": kind,
            "name": entry.path.rsplit("/", 1)[-1],
            "path": entry.path,
            "sha": entry.sha,
            "size": entry.size,
            "url": url,
            "git_url": git_url,
            "html_url": html_url,
            "download_url": f"{self.base_url}/raw/{repo.full_name}/{ref}/{quoted}"
            if kind == "file"
            else None,
            "_links": {"self": url, "git": git_url, "html": html_url},
        }
        if with_content and kind in ("file", "symlink"):
            content = bare_git.blob(repo.path, entry.sha) or b""
            if kind == "symlink":
                data["target"] = content.decode()
            elif entry.size > MAX_CONTENT_SIZE:
                data.update({"content": "", "encoding": "none"})
            else:
                encoded = base64.b64encode(content).decode()
                data.update(
                    {
                        "content": "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n",
                        "encoding": "base64",
                    }
                )
        return data

    def _h_contents(
        self, *, full_name: str, query: dict[str, list[str]], path: str | None = None, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        repo = self._repo(full_name)
        ref = query.get("ref", [repo.default_branch])[0]
        commit = bare_git.resolve(repo.path, ref)
        if commit is None:
            raise HTTPError(404, f"No commit found for the ref {ref}")
        clean = (path or "").strip("/")
        entry = bare_git.entry(repo.path, commit, clean)
        if entry is None:
            raise not_found()
        if entry.kind == "tree":
            return (
                200,
                [
                    self._content_json(repo, item, ref, with_content=False)
                    for item in bare_git.list_tree(repo.path, commit, clean)
                ],
                {},
            )
        return 200, self._content_json(repo, entry, ref, with_content=True), {}

    def _h_blob(self, *, full_name: str, sha: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        repo = self._repo(full_name)
        content = bare_git.blob(repo.path, sha)
        if content is None:
            raise not_found()
        return (
            200,
            {
                "sha": sha,
                "node_id": f"B_{sha[:8]}",
                "size": len(content),
                "url": f"{self.base_url}/repos/{repo.full_name}/git/blobs/{sha}",
                "content": base64.b64encode(content).decode(),
                "encoding": "base64",
            },
            {},
        )

    # -- handlers: pull requests -------------------------------------------------------------------

    def _h_list_pulls(
        self, *, full_name: str, query: dict[str, list[str]], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        repo = self._repo(full_name)
        state = query.get("state", ["open"])[0]
        head = query.get("head", [None])[0]
        base = query.get("base", [None])[0]
        pulls = [p for (name, _), p in self._pulls.items() if name == repo.full_name]
        if state in ("open", "closed"):
            pulls = [p for p in pulls if p.state == state]
        if head:
            owner, _, ref = head.partition(":")
            pulls = [
                p
                for p in pulls
                if p.head_repo.split("/")[0].lower() == owner.lower() and (not ref or p.head_ref == ref)
            ]
        if base:
            pulls = [p for p in pulls if p.base_ref == base]
        descending = query.get("direction", ["desc"])[0] != "asc"
        pulls.sort(key=lambda p: p.number, reverse=descending)
        return self._paginate(
            [self._pull_json(p, full=False) for p in pulls], query, f"/repos/{repo.full_name}/pulls"
        )

    def _h_create_pull(
        self, *, full_name: str, body: Any, identity: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        repo = self._repo(full_name)
        pull = self._create_pull(repo, body, identity.login)
        data = self._pull_json(pull, full=True)
        self._emit_pull(pull, "opened", identity.login)
        return 201, data, {"Location": data["url"]}

    def _h_get_pull(self, *, full_name: str, number: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, self._pull_json(self._pull(full_name, int(number)), full=True), {}

    def _h_edit_pull(
        self, *, full_name: str, number: str, body: Any, identity: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(full_name, int(number))
        repo = self._repo(full_name)
        # Validate everything before changing anything: a refused edit changes nothing.
        if "title" in body and not str(body["title"]).strip():
            raise validation("PullRequest", field_name="title", code="missing_field")
        if "body" in body:
            self._check_pull_body(body["body"])
        if "base" in body and bare_git.branch(repo.path, str(body["base"])) is None:
            raise validation("PullRequest", field_name="base", code="invalid")
        if "state" in body:
            if body["state"] not in ("open", "closed"):
                raise validation("PullRequest", field_name="state", code="invalid")
            if pull.merged and body["state"] == "open":
                raise validation("PullRequest", message="Cannot reopen a merged pull request")
        changes: dict[str, Any] = {}
        if "title" in body and body["title"] != pull.title:
            changes["title"] = {"from": pull.title}
            pull.title = body["title"]
        if "body" in body and (body["body"] or "") != pull.body:
            changes["body"] = {"from": pull.body}
            pull.body = body["body"] or ""
        if "base" in body and body["base"] != pull.base_ref:
            old_base_sha = bare_git.branch(repo.path, pull.base_ref) or ""
            changes["base"] = {"ref": {"from": pull.base_ref}, "sha": {"from": old_base_sha}}
            pull.base_ref = body["base"]
        state_action = None
        if "state" in body:
            self._head_sha(pull)
            if body["state"] != pull.state:
                state_action = "closed" if body["state"] == "closed" else "reopened"
            pull.state = body["state"]
            pull.closed_at = _now() if pull.state == "closed" else None
        pull.updated_at = _now()
        if changes:
            self._emit_pull(pull, "edited", identity.login, changes=changes)
        if state_action:
            self._emit_pull(pull, state_action, identity.login)
        return 200, self._pull_json(pull, full=True), {}

    def _check_pull_body(self, text: Any) -> None:
        if isinstance(text, str) and len(text) > MAX_BODY_LENGTH:
            raise validation(
                "PullRequest",
                field_name="body",
                code="custom",
                message=f"body is too long (maximum is {MAX_BODY_LENGTH} characters)",
            )

    def _h_pull_files(
        self, *, full_name: str, number: str, query: dict[str, list[str]], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(full_name, int(number))
        repo = self._repo(full_name)
        head = self._head_sha(pull)
        base = bare_git.resolve(repo.path, pull.base_ref) or head
        items = []
        for change in bare_git.changed_files(repo.path, base, head):
            item: dict[str, Any] = {
                "sha": change.sha,
                "filename": change.filename,
                "status": change.status,
                "additions": change.additions,
                "deletions": change.deletions,
                "changes": change.additions + change.deletions,
                "blob_url": f"{self.html_base}/{repo.full_name}/blob/{head}/{change.filename}",
                "raw_url": f"{self.html_base}/{repo.full_name}/raw/{head}/{change.filename}",
                "contents_url": f"{self.base_url}/repos/{repo.full_name}/contents/"
                f"{urllib.parse.quote(change.filename)}?ref={head}",
            }
            if change.previous_filename:
                item["previous_filename"] = change.previous_filename
            items.append(item)
        return self._paginate(items, query, f"/repos/{repo.full_name}/pulls/{number}/files")

    def _h_is_merged(self, *, full_name: str, number: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        if self._pull(full_name, int(number)).merged:
            return 204, None, {}
        raise not_found()

    def _h_merge(
        self, *, full_name: str, number: str, body: Any, identity: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        sha = self._merge(self._pull(full_name, int(number)), body, identity.login)
        return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}, {}

    def _merge(self, pull: Pull, body: Mapping[str, Any], actor: str) -> str:
        """The merge button (under ``_lock``): a real commit on the base branch, then the webhooks."""
        repo = self._repo(pull.repo)
        method = body.get("merge_method", "merge")
        if method not in ("merge", "squash", "rebase"):
            raise validation("PullRequest", field_name="merge_method", code="invalid")
        if pull.state != "open":
            raise HTTPError(405, "Pull Request is not mergeable")
        head = self._head_sha(pull)
        expected = body.get("sha")
        if expected and expected != head:
            raise HTTPError(409, "Head branch was modified. Review and try the merge again.")
        if pull.draft:
            raise HTTPError(405, "Pull Request is still a draft")
        if pull.merge_block:
            raise HTTPError(405, pull.merge_block)
        base_sha = bare_git.resolve(repo.path, pull.base_ref)
        if base_sha is None:
            raise HTTPError(405, "Pull Request is not mergeable")
        head_owner = pull.head_repo.split("/")[0]
        if method == "merge":
            title = (
                body.get("commit_title")
                or f"Merge pull request #{pull.number} from {head_owner}/{pull.head_ref}"
            )
            message = body.get("commit_message", pull.title)
        else:
            title = body.get("commit_title") or f"{pull.title} (#{pull.number})"
            message = body.get("commit_message", "")
        try:
            sha = bare_git.merge(
                repo.path,
                base_branch=pull.base_ref,
                expected_base=base_sha,
                head_sha=head,
                method=method,
                title=title,
                message=message,
                author=(actor, f"{actor}@users.noreply.github.com"),
            )
        except bare_git.MergeConflict:
            raise HTTPError(405, "Pull Request is not mergeable") from None
        pull.state = "closed"
        pull.merged = True
        pull.merged_at = pull.closed_at = pull.updated_at = _now()
        pull.merged_by = actor
        pull.merge_commit_sha = sha
        # The base branch moved (a push by the merger), then the PR closed as merged.
        self._collect_pushes(pusher=actor)
        self._emit_pull(pull, "closed", actor)
        return sha

    def _h_reviews(
        self, *, full_name: str, number: str, query: dict[str, list[str]], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        self._pull(full_name, int(number))
        items = [
            self._review_json(full_name, int(number), r)
            for r in self._reviews.get((full_name, int(number)), [])
        ]
        return self._paginate(items, query, f"/repos/{full_name}/pulls/{number}/reviews")

    def _h_request_reviewers(
        self, *, full_name: str, number: str, body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(full_name, int(number))
        repo = self._repo(full_name)
        users = list(body.get("reviewers") or [])
        teams = list(body.get("team_reviewers") or [])
        if not users and not teams:
            raise validation(
                "PullRequest", message="Must specify at least one of reviewers or team_reviewers"
            )
        for login in users:
            if login.lower() == pull.user.lower():
                raise validation(
                    "PullRequest", message="Review cannot be requested from pull request author."
                )
            if login.lower() not in repo.collaborators and login.lower() != repo.owner.lower():
                raise validation(
                    "PullRequest",
                    message="Reviews may only be requested from collaborators. "
                    "One or more of the users or teams "
                    f"you specified is not a collaborator of the {repo.full_name} repository.",
                )
        for slug in teams:
            if (repo.owner.lower(), slug.lower()) not in self._teams:
                raise validation(
                    "PullRequest", message=f"Could not resolve to a node with the global id of '{slug}'"
                )
        for login in users:
            if login.lower() not in [r.lower() for r in pull.requested_reviewers]:
                pull.requested_reviewers.append(login)
        for slug in teams:
            if slug.lower() not in [t.lower() for t in pull.requested_teams]:
                pull.requested_teams.append(slug)
        return 201, self._pull_json(pull, full=False), {}

    def _h_requested_reviewers(
        self, *, full_name: str, number: str, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(full_name, int(number))
        repo = self._repo(full_name)
        return (
            200,
            {
                "users": [self._user_json(u) for u in pull.requested_reviewers],
                "teams": [self._team_json(repo.owner, t) for t in pull.requested_teams],
            },
            {},
        )

    # -- handlers: issues (labels, comments, reactions) --------------------------------------------

    def _issue(self, full_name: str, number: int) -> Pull:
        # Only pull requests exist as issues here; a plain issue number answers 404.
        return self._pull(full_name, number)

    def _h_labels(
        self, *, full_name: str, number: str, query: dict[str, list[str]], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        pull = self._issue(full_name, int(number))
        repo = self._repo(full_name)
        return self._paginate(
            [self._label_json(repo, n) for n in pull.labels],
            query,
            f"/repos/{full_name}/issues/{number}/labels",
        )

    def _h_add_labels(
        self, *, full_name: str, number: str, body: Any, identity: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        pull = self._issue(full_name, int(number))
        repo = self._repo(full_name)
        names = body.get("labels") if isinstance(body, dict) else body
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise validation("Label", field_name="labels", code="invalid")
        added = []
        for name in names:
            existing = repo.labels.get(name.lower())
            canonical = existing["name"] if existing else name
            self._label_json(repo, canonical)
            if canonical.lower() not in [n.lower() for n in pull.labels]:
                pull.labels.append(canonical)
                added.append(canonical)
        for name in added:
            self._emit_pull(pull, "labeled", identity.login, label=self._label_json(repo, name))
        return 200, [self._label_json(repo, n) for n in pull.labels], {}

    def _h_list_comments(
        self, *, full_name: str, number: str, query: dict[str, list[str]], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        self._issue(full_name, int(number))
        items = [
            self._comment_json(c)
            for c in self._comments.values()
            if c.repo == full_name and c.number == int(number)
        ]
        return self._paginate(items, query, f"/repos/{full_name}/issues/{number}/comments")

    def _check_comment_body(self, body: Any) -> str:
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text:
            raise validation("IssueComment", field_name="body", code="missing_field")
        if len(text) > MAX_BODY_LENGTH:
            raise validation(
                "IssueComment",
                field_name="data",
                code="unprocessable",
                message=f"Body is too long (maximum is {MAX_BODY_LENGTH} characters)",
            )
        return text

    def _h_create_comment(
        self, *, full_name: str, number: str, body: Any, identity: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        self._issue(full_name, int(number))
        comment = IssueComment(
            next(self._ids), full_name, int(number), self._check_comment_body(body), identity.login
        )
        self._comments[comment.id] = comment
        data = self._comment_json(comment)
        self._emit_comment(comment, "created", identity.login)
        return 201, data, {"Location": data["url"]}

    def _comment(self, full_name: str, comment_id: str) -> IssueComment:
        comment = self._comments.get(int(comment_id))
        if comment is None or comment.repo != full_name:
            raise not_found()
        return comment

    def _h_get_comment(self, *, full_name: str, comment_id: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, self._comment_json(self._comment(full_name, comment_id)), {}

    def _h_edit_comment(
        self, *, full_name: str, comment_id: str, body: Any, identity: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        comment = self._comment(full_name, comment_id)
        text = self._check_comment_body(body)
        previous = comment.body
        comment.body = text
        comment.updated_at = _now()
        if text != previous:
            self._emit_comment(comment, "edited", identity.login, changes={"body": {"from": previous}})
        return 200, self._comment_json(comment), {}

    def _h_reaction(
        self, *, full_name: str, comment_id: str, body: Any, identity: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        comment = self._comment(full_name, comment_id)
        content = body.get("content")
        if content not in REACTION_CONTENTS:
            raise validation("Reaction", field_name="content", code="invalid")
        for reaction in comment.reactions:
            if reaction["content"] == content and reaction["user"]["login"] == identity.login:
                return 200, reaction, {}
        reaction = {
            "id": next(self._ids),
            "node_id": "REA_x",
            "user": self._user_json(identity.login),
            "content": content,
            "created_at": _now(),
        }
        comment.reactions.append(reaction)
        return 201, reaction, {}

    # -- handlers: statuses, permissions, teams ----------------------------------------------------

    def _h_create_status(
        self, *, full_name: str, sha: str, body: Any, identity: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        repo = self._repo(full_name)
        commit = bare_git.resolve(repo.path, sha)
        if commit is None:
            raise validation(
                "Status", field_name="sha", code="invalid", message=f"No commit found for SHA: {sha}"
            )
        state = body.get("state")
        if state not in ("error", "failure", "pending", "success"):
            raise validation("Status", field_name="state", code="invalid")
        description = body.get("description")
        if description is not None and len(description) > 140:
            raise validation(
                "Status",
                field_name="description",
                code="custom",
                message="description is too long (maximum is 140 characters)",
            )
        status_id = next(self._ids)
        record = {
            "url": f"{self.base_url}/repos/{repo.full_name}/statuses/{commit}",
            "id": status_id,
            "node_id": f"SC_{status_id}",
            "state": state,
            "description": description,
            "target_url": body.get("target_url"),
            "context": body.get("context") or "default",
            "created_at": _now(),
            "updated_at": _now(),
            "creator": self._user_json(identity.login),
            "sha": commit,
        }
        self._statuses.setdefault(repo.full_name, []).append(record)
        return 201, {k: v for k, v in record.items() if k != "sha"}, {}

    def _h_list_statuses(
        self, *, full_name: str, ref: str, query: dict[str, list[str]], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        repo = self._repo(full_name)
        commit = bare_git.resolve(repo.path, ref)
        if commit is None:
            raise not_found()
        items = [
            {k: v for k, v in s.items() if k != "sha"}
            for s in reversed(self.statuses(repo.full_name, commit))
        ]
        return self._paginate(items, query, f"/repos/{full_name}/commits/{ref}/statuses")

    def _h_permission(self, *, full_name: str, login: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        repo = self._repo(full_name)
        key = login.lower()
        if key not in self._users:
            raise not_found()
        role = "admin" if key == repo.owner.lower() else repo.collaborators.get(key)
        if role is None:
            role = "none" if repo.private else "read"
        legacy = LEGACY_PERMISSION.get(role, "read" if role != "none" else "none")
        return 200, {"permission": legacy, "role_name": role, "user": self._user_json(login)}, {}

    def _h_membership(self, *, org: str, slug: str, login: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        team = self._teams.get((org.lower(), slug.lower()))
        if team is None or login.lower() not in team:
            raise not_found()
        state, _, role = team[login.lower()].partition(":")
        return (
            200,
            {"url": f"{self.base_url}/teams/{slug}/memberships/{login}", "role": role, "state": state},
            {},
        )
