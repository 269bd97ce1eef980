"""A local GitLab (REST API v4 and webhooks) for tests, backed by real git repositories.

``GitLabStandIn`` serves, on 127.0.0.1 and a free port, the ``/api/v4`` endpoints the bot's
python-gitlab adapter uses, in GitLab's wire format: URL-encoded project paths
(``acme%2Fgitops``), ``PRIVATE-TOKEN`` auth, GitLab's error bodies (``{"message": ...}``), offset
pagination (``X-Page``/``X-Total``/``Link``) and keyset pagination (``pagination=keyset``). Projects
are bare git repositories on disk: files, merge request heads (``refs/merge-requests/N/head``),
diffs and merges are real git. Notes, award emoji, commit statuses, approvals, labels, members and
groups are in-memory state.

Webhooks (``set_webhook``), as a project webhook sends them: ``X-Gitlab-Token``, ``X-Gitlab-Event``,
``X-Gitlab-Event-UUID`` and ``Idempotency-Key`` headers, GitLab's payloads for merge request hooks
(open, update with ``oldrev`` after a push, merge, close, reopen), note hooks, push hooks and
pipeline hooks. Deliveries are queued and sent in order by ``flush()`` on the calling thread.

The test hooks are the GitHub stand-in's (same names, same arguments, GitHub's words for roles and
review states) so one test body drives either forge: ``create_repo``, ``commit``, ``branch_sha``,
``repo_path``, ``set_permission`` (admin → Owner, maintain → Maintainer, write → Developer, triage →
Reporter, read → Guest), ``add_team_member`` (a group), ``open_pull_request``, ``add_review``
(``APPROVED`` is an approval), ``block_merge``, ``post_comment_as``, ``merge_pull_request``, and
read-back ``pulls``, ``pull``, ``comments``, ``reactions``, ``statuses`` (``context``/``state`` as
GitHub names them), ``labels``, ``requests``. GitLab's own: ``run_pipeline``/``finish_pipeline``.
Faults: ``fail_next(status, retry_after=)`` for 5xx and 429. Repositories may be named with or
without the bot's ``gitlab:`` prefix.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support import github_standin_git as bare_git
from tests.support.gitlab_standin_api import ApiMixin, HTTPError
from tests.support.http_standin import serve, shut

ZERO_SHA = "0" * 40
PUSH_SPOOL = "standin-pushes.log"
POST_RECEIVE_HOOK = "#!/bin/sh\ncat >> " + PUSH_SPOOL + "\n"
ACCESS = {"admin": 50, "maintain": 40, "write": 30, "triage": 20, "read": 10}
DEFAULT_HOOKS = frozenset({"merge_request", "note", "pipeline"})


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def bare_name(name: str) -> str:
    return name[len("gitlab:") :] if name.lower().startswith("gitlab:") else name


@dataclass
class Project:
    path: str  # group/subgroup/name
    id: int
    bare: Path
    default_branch: str
    members: dict[str, int] = field(default_factory=dict)  # username -> access level
    spool_offset: int = 0
    requires_pipeline: bool = False


@dataclass
class Pull:
    """A merge request, with the GitHub stand-in's field names (``state``: open|closed, ``merged``)."""

    number: int
    id: int
    repo: str
    title: str
    body: str
    user: str
    head_ref: str
    base_ref: str
    head_sha: str
    source_project: str
    draft: bool = False
    state: str = "open"
    merged: bool = False
    merge_commit_sha: str | None = None
    merged_by: str | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    merge_block: str | None = None
    approvals: list[tuple[str, str]] = field(default_factory=list)  # (username, sha approved)
    pipeline: str | None = None  # running | success | failed ...
    auto_merge: tuple[str, str] | None = None  # (who, head sha) of "merge when pipeline succeeds"

    @property
    def head_repo(self) -> str:
        return self.source_project


@dataclass
class Note:
    id: int
    repo: str
    number: int
    body: str
    user: str
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    emoji: list[str] = field(default_factory=list)
    system: bool = False


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any
    status: int


@dataclass
class Delivery:
    hook: str
    payload: dict[str, Any]
    headers: dict[str, str]
    status: int | None = None
    response_text: str = ""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Fault:
    status: int
    retry_after: float | None
    method: str | None
    path_contains: str | None


class GitLabStandIn(ApiMixin):
    def __init__(self, root: Path, *, host: str = "127.0.0.1") -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._host = host
        self._lock = threading.RLock()
        self._ids = itertools.count(101)
        self._projects: dict[str, Project] = {}
        self._pulls: dict[tuple[str, int], Pull] = {}
        self._next_iid: dict[str, int] = {}
        self._notes: dict[int, Note] = {}
        self._issues: dict[tuple[str, int], dict[str, Any]] = {}
        self._statuses: dict[str, list[dict[str, Any]]] = {}
        self._users: dict[str, int] = {}
        self._tokens: dict[str, str] = {}
        self._groups: dict[str, dict[str, int]] = {}  # full path -> username -> access level
        self._faults: list[Fault] = []
        self._before: list[tuple[str, str, Callable[[], None]]] = []
        self.requests: list[RecordedRequest] = []
        self.deliveries: list[Delivery] = []
        self._outbox: list[Delivery] = []
        self._webhook: tuple[str, str | None, frozenset[str], httpx.Client | None] | None = None
        self.new_pull_merge_block: str | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> GitLabStandIn:
        self._server, self._thread = serve(self._host, self.dispatch, "gitlab-standin")
        return self

    def stop(self) -> None:
        shut(self._server, self._thread)
        self._server = self._thread = None

    def __enter__(self) -> GitLabStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- set-up hooks ------------------------------------------------------------------------------

    def add_token(self, token: str, login: str = "gitops-bot") -> None:
        with self._lock:
            self._tokens[token] = login
            self.user_id(login)

    def create_repo(
        self,
        full_name: str,
        files: Mapping[str, str | bytes] | None = None,
        *,
        default_branch: str = "main",
        fork_of: str | None = None,
    ) -> Path:
        """A bare repository with one commit of ``files`` (a fork starts as a copy of its parent)."""
        path = bare_name(full_name)
        bare = self.root / "repos" / f"{path}.git"
        bare.mkdir(parents=True)
        bare_git.git(bare, "init", "-q", "--bare", f"--initial-branch={default_branch}")
        bare_git.install_post_receive_hook(bare, POST_RECEIVE_HOOK)
        if fork_of is not None:
            parent = self.project(fork_of)
            bare_git.git(bare, "fetch", "-q", str(parent.bare), "+refs/heads/*:refs/heads/*")
            if files:
                bare_git.commit_files(bare, default_branch, dict(files), "Fork changes")
        else:
            bare_git.first_commit(bare, default_branch, dict(files or {}), "Initial commit")
        with self._lock:
            project = Project(path, next(self._ids), bare, default_branch)
            project.spool_offset = _spool_size(bare)
            self._projects[path.lower()] = project
        return bare

    def repo_path(self, full_name: str) -> Path:
        return self.project(full_name).bare

    def repo_url(self, full_name: str) -> str:
        return self.project(full_name).bare.as_uri()

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
        project = self.project(full_name)
        with self._lock:
            self.collect_pushes()
        sha = bare_git.commit_files(
            project.bare,
            branch,
            files,
            message,
            start_from=start_from or project.default_branch,
            author=author,
        )
        with self._lock:
            self.user_id(pusher)
            self.collect_pushes(pusher=pusher)
        return sha

    def branch_sha(self, full_name: str, branch: str) -> str | None:
        return bare_git.resolve(self.project(full_name).bare, branch)

    def set_permission(self, full_name: str, login: str, role: str | None) -> None:
        """GitHub's role names, as GitLab access levels (see the module docstring)."""
        with self._lock:
            project = self.project(full_name)
            self.user_id(login)
            if role is None:
                project.members.pop(login.lower(), None)
            else:
                project.members[login.lower()] = ACCESS[role]

    def add_team_member(
        self, org: str, slug: str, login: str, *, state: str = "active", role: str = "member"
    ) -> None:
        """``org/slug`` is a group; a pending invitation (``state``) is not a member."""
        with self._lock:
            self.user_id(login)
            members = self._groups.setdefault(f"{bare_name(org)}/{slug}".lower(), {})
            if state == "active":
                members[login.lower()] = 40 if role == "maintainer" else 30

    def require_pipeline(self, full_name: str, required: bool = True) -> None:
        """ "Pipelines must succeed": merging waits for the head pipeline."""
        with self._lock:
            self.project(full_name).requires_pipeline = required

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
        """A merge request opened by ``user`` (``head`` may be ``group:branch`` of a fork project)."""
        with self._lock:
            self.collect_pushes()
            project = self.project(full_name)
            data = {"source_branch": head, "target_branch": base or project.default_branch, "title": title}
            data["description"] = body
            pull = self.create_pull(project, data, user)
            self.emit_pull(pull, "open", user)
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
        """``APPROVED``: ``user`` approves (at ``commit_id``, the head by default); GitLab lists an
        approval only while the head is the one approved (approvals reset on push)."""
        with self._lock:
            pull = self.pull(full_name, number)
            self.user_id(user)
            if state.upper() == "APPROVED":
                pull.approvals.append((user, commit_id or pull.head_sha))
                self.emit_pull(pull, "approved", user)
            elif state.upper() == "DISMISSED":
                pull.approvals = [item for item in pull.approvals if item[0].lower() != user.lower()]
            return next(self._ids)

    def block_merge(self, full_name: str, number: int, message: str | None) -> None:
        """A protected branch the bot may not merge into: ``PUT …/merge`` answers 405 (None lifts it)."""
        with self._lock:
            self.pull(full_name, number).merge_block = message

    def run_pipeline(self, full_name: str, number: int) -> None:
        with self._lock:
            self.pull(full_name, number).pipeline = "running"

    def finish_pipeline(self, full_name: str, number: int, status: str = "success") -> None:
        """The head pipeline ends; a ``Pipeline Hook`` goes out."""
        with self._lock:
            pull = self.pull(full_name, number)
            pull.pipeline = status
            self.emit_pipeline(pull, status)
            if pull.auto_merge is not None:
                who, sha = pull.auto_merge
                pull.auto_merge = None
                if status == "success" and sha == pull.head_sha:
                    self.merge(pull, {"sha": sha}, who)  # GitLab merges by itself

    # -- acting as a user --------------------------------------------------------------------------

    def post_comment_as(self, user: str, full_name: str, number: int, body: str) -> int:
        with self._lock:
            self.collect_pushes()
            self.user_id(user)
            pull = self.pull(full_name, number)
            note = self.add_note(pull, self.check_note(body), user)
            self.emit_note(note, pull, user)
            return note.id

    def merge_pull_request(
        self, full_name: str, number: int, *, method: str = "merge", user: str = "dev", **_: Any
    ) -> str:
        """``user`` presses Merge: a real merge and the merge request hook with ``action: merge``."""
        with self._lock:
            self.collect_pushes()
            self.user_id(user)
            pull = self.pull(full_name, number)
            return self.merge(pull, {"squash": method == "squash"}, user)

    # -- webhooks ----------------------------------------------------------------------------------

    def set_webhook(
        self,
        url: str | None,
        secret: str | None = None,
        *,
        events: Iterable[str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        """Send hooks to ``url`` (None: off) with ``X-Gitlab-Token: secret``. ``events``: ``merge_request``,
        ``note``, ``pipeline`` by default; add ``push`` (or the GitHub stand-in's names)."""
        names = {"pull_request": "merge_request", "issue_comment": "note"}
        with self._lock:
            if url is None:
                self._webhook = None
                return
            for project in self._projects.values():
                project.spool_offset = _spool_size(project.bare)
            wanted = frozenset(names.get(e, e) for e in (DEFAULT_HOOKS if events is None else events))
            self._webhook = (url, secret, wanted | DEFAULT_HOOKS, client)

    def flush(self, timeout: float = 30.0) -> list[Delivery]:
        """Announce pushes not seen yet, then deliver every queued hook in order."""
        with self._lock:
            self.collect_pushes()
            pending, self._outbox = self._outbox, []
            target = self._webhook
        for delivery in pending:
            if target is None:
                continue
            url, _, _, client = target
            sender = client or httpx.Client(timeout=10)
            try:
                response = sender.post(
                    url, content=json.dumps(delivery.payload).encode(), headers=delivery.headers
                )
                delivery.status, delivery.response_text = response.status_code, response.text
            finally:
                if client is None:
                    sender.close()
            self.deliveries.append(delivery)
        return list(self.deliveries)

    def deliveries_of(self, hook: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.hook == hook]

    def emit(self, hook: str, kind: str, payload: dict[str, Any]) -> None:
        """Queue a delivery (under ``_lock``)."""
        if self._webhook is None or kind not in self._webhook[2]:
            return
        event_uuid = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitLab/17.6.0",
            "X-Gitlab-Event": hook,
            "X-Gitlab-Event-UUID": event_uuid,
            "X-Gitlab-Webhook-UUID": "4b8d2f1e-0000-4000-8000-000000000001",
            "X-Gitlab-Instance": self.base_url,
            "Idempotency-Key": str(uuid.uuid4()),
        }
        if self._webhook[1] is not None:
            headers["X-Gitlab-Token"] = self._webhook[1]
        self._outbox.append(Delivery(hook, payload, headers))

    def collect_pushes(self, *, pusher: str | None = None) -> None:
        """Read each project's post-receive spool: a push to a merge request's source branch is an
        ``update`` with ``oldrev``; a push hook goes out when subscribed (under ``_lock``)."""
        for project in list(self._projects.values()):
            size = _spool_size(project.bare)
            if size <= project.spool_offset:
                continue
            with (project.bare / PUSH_SPOOL).open("rb") as spool:
                spool.seek(project.spool_offset)
                data = spool.read(size - project.spool_offset)
            complete = data[: data.rfind(b"\n") + 1]
            project.spool_offset += len(complete)
            for line in complete.decode().splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[2].startswith("refs/heads/"):
                    self.announce_push(project, *parts, pusher=pusher or self.bot_login())

    def announce_push(self, project: Project, old: str, new: str, ref: str, *, pusher: str) -> None:
        self.emit("Push Hook", "push", self.push_payload(project, old, new, ref, pusher))
        branch = ref[len("refs/heads/") :]
        if new == ZERO_SHA:
            return
        for pull in list(self._pulls.values()):
            if pull.state != "open" or pull.source_project != project.path or pull.head_ref != branch:
                continue
            before = pull.head_sha
            if before == new:
                continue
            pull.head_sha = new
            pull.updated_at = now()
            pull.pipeline = "running" if project.requires_pipeline and self.start_pipelines else None
            pull.auto_merge = None  # a new head cancels "merge when pipeline succeeds"
            self.sync_ref(pull)
            self.emit_pull(pull, "update", pusher, oldrev=before)

    # -- read-back ---------------------------------------------------------------------------------

    def project(self, full_name: str) -> Project:
        """By path (``group/project``, ``gitlab:`` or not) or by numeric id, as the API takes both."""
        if full_name.isdigit():
            found = next((p for p in self._projects.values() if p.id == int(full_name)), None)
        else:
            found = self._projects.get(bare_name(full_name).lower())
        if found is None:
            raise HTTPError(404, "404 Project Not Found")
        return found

    def pull(self, full_name: str, number: int) -> Pull:
        found = self._pulls.get((self.project(full_name).path, int(number)))
        if found is None:
            raise HTTPError(404, "404 Not found")
        return found

    def pulls(self, full_name: str) -> list[Pull]:
        with self._lock:
            self.collect_pushes()
            path = self.project(full_name).path
            return [pull for (repo, _), pull in sorted(self._pulls.items()) if repo == path]

    def comments(self, full_name: str, number: int) -> list[Note]:
        path = self.project(full_name).path
        return [n for n in self._notes.values() if n.repo == path and n.number == number and not n.system]

    def reactions(self, comment_id: int) -> list[str]:
        names = {"thumbsup": "+1", "thumbsdown": "-1", "tada": "hooray"}
        return [names.get(name, name) for name in self._notes[comment_id].emoji]

    def statuses(self, full_name: str, sha: str) -> list[dict[str, Any]]:
        """Oldest first, GitHub's keys beside GitLab's (``context`` = ``name``, ``failure`` = ``failed``)."""
        self.project(full_name)
        words = {"failed": "failure", "running": "pending", "canceled": "error"}
        return [
            {**status, "context": status["name"], "state": words.get(status["status"], status["status"])}
            for status in self._statuses.get(sha, [])
        ]

    def labels(self, full_name: str, number: int) -> list[str]:
        return list(self.pull(full_name, number).labels)

    def user_id(self, login: str) -> int:
        key = login.lower()
        if key not in self._users:
            self._users[key] = next(self._ids)
        return self._users[key]

    def bot_login(self) -> str:
        return next(iter(self._tokens.values()), "ghost")


def _spool_size(bare: Path) -> int:
    try:
        return (bare / PUSH_SPOOL).stat().st_size
    except FileNotFoundError:
        return 0
