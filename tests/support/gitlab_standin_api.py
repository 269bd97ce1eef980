"""The GitLab stand-in's REST API v4 (`gitlab_standin`), in GitLab's shapes."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.support import github_standin_git as bare_git
from tests.support.gitlab_standin_hooks import HooksMixin

if TYPE_CHECKING:
    from tests.support.gitlab_standin import Note, Project, Pull

MAX_NOTE = 1_000_000
Answer = tuple[int, Any, dict[str, str]]


class HTTPError(Exception):
    def __init__(self, status: int, message: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.headers = headers or {}


def _project_path(path: str) -> str:
    return urllib.parse.unquote(path)


class ApiMixin(HooksMixin):
    """Routes and JSON; state lives in :class:`~tests.support.gitlab_standin.GitLabStandIn`, hook
    payloads in :mod:`tests.support.gitlab_standin_hooks`."""

    # Provided by the stand-in.
    _lock: Any
    _ids: Any
    _projects: dict[str, Project]
    _pulls: dict[tuple[str, int], Pull]
    _next_iid: dict[str, int]
    _notes: dict[int, Note]
    _issues: dict[tuple[str, int], dict[str, Any]]
    _statuses: dict[str, list[dict[str, Any]]]
    _users: dict[str, int]
    _tokens: dict[str, str]
    _groups: dict[str, dict[str, int]]
    _faults: list[Any]
    _before: list[tuple[str, str, Callable[[], None]]]
    requests: list[Any]
    new_pull_merge_block: str | None
    start_pipelines: bool = True
    _path_now: str = ""

    # -- faults --------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int = 502,
        *,
        count: int = 1,
        retry_after: float | None = None,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """The next ``count`` matching requests answer ``status`` (429 with ``Retry-After`` when given)."""
        from tests.support.gitlab_standin import Fault

        with self._lock:
            for _ in range(count):
                self._faults.append(Fault(status, retry_after, method, path_contains))

    def before_next(self, method: str, path_contains: str, action: Callable[[], None]) -> None:
        """Run ``action`` once, before answering the next matching request: something that happens
        elsewhere while the caller waits for GitLab. It runs outside the lock, so it may call the
        stand-in."""
        with self._lock:
            self._before.append((method.upper(), path_contains, action))

    def _run_before(self, method: str, path: str) -> None:
        with self._lock:
            due = next((hook for hook in self._before if hook[0] == method and hook[1] in path), None)
            if due is not None:
                self._before.remove(due)
        if due is not None:
            due[2]()

    # -- dispatch ------------------------------------------------------------------------------

    def dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urllib.parse.urlsplit(raw_path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        query_lists = urllib.parse.parse_qs(split.query)
        body = self._body(headers, raw)
        if method in ("POST", "PUT"):
            body = {**query, **body}  # GitLab (Grape) reads parameters from the query string too
        self._run_before(method, split.path)
        self._path_now = split.path
        out: dict[str, str] = {"Content-Type": "application/json"}
        try:
            with self._lock:
                self.collect_pushes()  # type: ignore[attr-defined]
                self._fault(method, split.path)
                self._authenticate(headers)
                status, payload, extra = self._route(method, split.path, query, query_lists, body)
                out.update(extra)
        except HTTPError as error:
            status, payload = error.status, {"message": error.message}
            out.update(error.headers)
        from tests.support.gitlab_standin import RecordedRequest

        self.requests.append(RecordedRequest(method, split.path, body, status))
        if isinstance(payload, bytes):
            out["Content-Type"] = "text/plain; charset=utf-8"
            return status, out, payload
        return status, out, json.dumps(payload).encode() if payload is not None else b""

    @staticmethod
    def _body(headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        if not raw:
            return {}
        kind = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        if "json" in kind:
            data = json.loads(raw)
            return data if isinstance(data, dict) else {}
        return {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()}

    def _fault(self, method: str, path: str) -> None:
        for fault in list(self._faults):
            if (fault.method is None or fault.method == method) and (
                fault.path_contains is None or fault.path_contains in path
            ):
                self._faults.remove(fault)
                extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                message = "429 Too Many Requests" if fault.status == 429 else f"{fault.status} Server Error"
                raise HTTPError(fault.status, message, extra)

    def _authenticate(self, headers: dict[str, str]) -> str:
        lowered = {k.lower(): v for k, v in headers.items()}
        token = (
            lowered.get("private-token") or lowered.get("authorization", "").removeprefix("Bearer ").strip()
        )
        login = self._tokens.get(token or "")
        if login is None:
            raise HTTPError(401, "401 Unauthorized")
        return login

    def _route(
        self, method: str, path: str, query: dict[str, str], lists: dict[str, list[str]], body: dict[str, Any]
    ) -> Answer:
        match = re.fullmatch(r"/api/v4/projects/([^/]+)(/.*)?", path)
        if match:
            project = self.project(_project_path(match.group(1)))  # type: ignore[attr-defined]
            return self._project_route(method, project, match.group(2) or "", query, body)
        if method == "GET" and path == "/api/v4/users":
            name = query.get("username", "").lower()
            found = [self._user_json(name)] if name and name in self._users else []
            return 200, found, {}
        match = re.fullmatch(r"/api/v4/groups/([^/]+)/members/all/(\d+)", path)
        if method == "GET" and match:
            group = self._groups.get(_project_path(match.group(1)).lower())
            if group is None:
                raise HTTPError(404, "404 Group Not Found")
            return self._member(group, int(match.group(2)))
        if method == "GET" and path == "/api/v4/user":
            return 200, self._user_json(next(iter(self._tokens.values()))), {}
        raise HTTPError(404, "404 Not Found")

    def _project_route(
        self, method: str, project: Project, rest: str, query: dict[str, str], body: dict[str, Any]
    ) -> Answer:
        if rest == "" and method == "GET":
            return 200, self._project_json(project), {}
        if rest.startswith("/repository/files/") and rest.endswith("/raw") and method == "GET":
            return self._raw_file(
                project, urllib.parse.unquote(rest[len("/repository/files/") : -len("/raw")]), query
            )
        match = re.fullmatch(r"/members/all/(\d+)", rest)
        if match and method == "GET":
            return self._member(project.members, int(match.group(1)))
        match = re.fullmatch(r"/statuses/([0-9a-f]{40})", rest)
        if match and method == "POST":
            return self._create_status(project, match.group(1), body)
        if rest == "/merge_requests":
            if method == "GET":
                return self._list_pulls(project, query)
            if method == "POST":
                return self._h_create_pull(project, body)
        match = re.fullmatch(r"/merge_requests/(\d+)(/.*)?", rest)
        if match:
            pull = self.pull(project.path, int(match.group(1)))  # type: ignore[attr-defined]
            return self._pull_route(method, project, pull, match.group(2) or "", query, body)
        if rest.startswith("/issues"):
            return self._issue_route(method, project, rest, query, body)
        raise HTTPError(404, "404 Not Found")

    def _pull_route(
        self,
        method: str,
        project: Project,
        pull: Pull,
        rest: str,
        query: dict[str, str],
        body: dict[str, Any],
    ) -> Answer:
        if rest == "" and method == "GET":
            return 200, self.pull_json(pull, full=True), {}
        if rest == "" and method == "PUT":
            return 200, self._edit_pull(project, pull, body), {}
        if rest == "/merge" and method == "PUT":
            return self._h_merge(pull, body)
        if rest == "/diffs" and method == "GET":
            return self._paged(self._diffs(project, pull), query)
        if rest == "/approvals" and method == "GET":
            approved = [user for user, sha in pull.approvals if sha == pull.head_sha]
            return (
                200,
                {
                    "iid": pull.number,
                    "approved": bool(approved),
                    "approved_by": [{"user": self._user_json(user)} for user in approved],
                },
                {},
            )
        if rest == "/notes" and method == "GET":
            notes = [
                self._note_json(n)
                for n in self._notes.values()
                if n.repo == pull.repo and n.number == pull.number
            ]
            notes.sort(key=lambda note: note["id"], reverse=query.get("sort", "desc") == "desc")
            return self._paged(notes, query)
        if rest == "/notes" and method == "POST":
            note = self.add_note(pull, self.check_note(body.get("body")), self.bot_login())  # type: ignore[attr-defined]
            return 201, self._note_json(note), {}
        match = re.fullmatch(r"/notes/(\d+)(/award_emoji)?", rest)
        if match:
            note = self._notes.get(int(match.group(1)))
            if note is None or note.number != pull.number:
                raise HTTPError(404, "404 Note Not Found")
            if match.group(2) and method == "POST":
                name = str(body.get("name") or "")
                if name in note.emoji:
                    raise HTTPError(404, "404 Award Emoji Name has already been taken")
                note.emoji.append(name)
                return (
                    201,
                    {"id": next(self._ids), "name": name, "user": self._user_json(self.bot_login())},
                    {},
                )  # type: ignore[attr-defined]
            if method == "PUT":
                note.body = self.check_note(body.get("body"))
                note.updated_at = _now()
            return 200, self._note_json(note), {}
        raise HTTPError(404, "404 Not Found")

    # -- merge requests --------------------------------------------------------------------------

    def create_pull(self, project: Project, data: dict[str, Any], user: str) -> Pull:
        from tests.support.gitlab_standin import Pull

        head = str(data.get("source_branch") or "")
        source = project
        if ":" in head:  # group:branch of a fork project
            owner, head = head.split(":", 1)
            name = project.path.rsplit("/", 1)[-1]
            source = self.project(f"{owner}/{name}")  # type: ignore[attr-defined]
        base = str(data.get("target_branch") or project.default_branch)
        sha = bare_git.resolve(source.bare, head)
        if sha is None:
            raise HTTPError(400, {"source_branch": ["is invalid"]})
        for pull in self._pulls.values():
            if (
                pull.state == "open"
                and pull.repo == project.path
                and pull.head_ref == head
                and pull.source_project == source.path
            ):
                raise HTTPError(
                    409, [f"Another open merge request already exists for this source branch: !{pull.number}"]
                )
        title = str(data.get("title") or "")
        if not title:
            raise HTTPError(400, {"title": ["can't be blank"]})
        iid = self._next_iid.get(project.path, 0) + 1
        self._next_iid[project.path] = iid
        draft = title.lower().startswith(("draft:", "[draft]", "(draft)"))
        pull = Pull(
            iid,
            next(self._ids),
            project.path,
            _strip_draft(title) if draft else title,
            self.check_note(data.get("description") or "", allow_empty=True),
            user,
            head,
            base,
            sha,
            source.path,
            draft=draft,
        )
        pull.merge_block = self.new_pull_merge_block
        # CI starts on the new head (unless a test holds pipelines back: start_pipelines False).
        pull.pipeline = "running" if project.requires_pipeline and self.start_pipelines else None
        pull.labels = _labels(data.get("labels"))
        pull.requested_reviewers = self._reviewers(data.get("reviewer_ids"))
        self._pulls[(project.path, iid)] = pull
        self.sync_ref(pull)
        return pull

    def _h_create_pull(self, project: Project, body: dict[str, Any]) -> Answer:
        pull = self.create_pull(project, body, self.bot_login())  # type: ignore[attr-defined]
        self.emit_pull(pull, "open", self.bot_login())  # type: ignore[attr-defined]
        return 201, self.pull_json(pull, full=True), {}

    def _edit_pull(self, project: Project, pull: Pull, body: dict[str, Any]) -> dict[str, Any]:
        actor = self.bot_login()  # type: ignore[attr-defined]
        changes: dict[str, Any] = {}
        if "title" in body:
            title = str(body["title"])
            draft = title.lower().startswith(("draft:", "[draft]", "(draft)"))
            if draft != pull.draft:
                changes["draft"] = {"previous": pull.draft, "current": draft}
            pull.title, pull.draft = (_strip_draft(title) if draft else title), draft
        if "description" in body:
            pull.body = self.check_note(body["description"], allow_empty=True)
        if "target_branch" in body:
            pull.base_ref = str(body["target_branch"])
        for label in _labels(body.get("add_labels")):
            if label.lower() not in (x.lower() for x in pull.labels):
                pull.labels.append(label)
                changes["labels"] = {}
        if "reviewer_ids" in body:
            pull.requested_reviewers = self._reviewers(body["reviewer_ids"])
        event = body.get("state_event")
        pull.updated_at = _now()
        if event == "close" and pull.state == "open":
            pull.state = "closed"
            self.emit_pull(pull, "close", actor)
        elif event == "reopen" and pull.state == "closed" and not pull.merged:
            pull.state = "open"
            self.emit_pull(pull, "reopen", actor)
        else:
            self.emit_pull(pull, "update", actor, changes=changes)
        return self.pull_json(pull, full=True)

    def _reviewers(self, ids: Any) -> list[str]:
        if isinstance(ids, str):
            ids = [part for part in ids.split(",") if part]
        by_id = {user_id: name for name, user_id in self._users.items()}
        return [by_id[int(i)] for i in ids or () if int(i) in by_id]

    def _h_merge(self, pull: Pull, body: dict[str, Any]) -> Answer:
        wants_auto = any(
            str(body.get(k)).lower() == "true" for k in ("merge_when_pipeline_succeeds", "auto_merge")
        )
        # GitLab schedules a merge only while a head pipeline runs; with none it merges now.
        if wants_auto and pull.state == "open" and pull.pipeline in ("running", "pending"):
            sha = body.get("sha")
            if sha and sha != pull.head_sha:
                raise HTTPError(409, f"SHA does not match HEAD of source branch: {pull.head_sha}")
            pull.auto_merge = (self.bot_login(), pull.head_sha)  # type: ignore[attr-defined]
            return 200, self.pull_json(pull, full=True), {}
        self.merge(pull, body, self.bot_login())  # type: ignore[attr-defined]
        return 200, self.pull_json(pull, full=True), {}

    def merge(self, pull: Pull, body: dict[str, Any], actor: str) -> str:
        if pull.state != "open":
            raise HTTPError(405, "405 Method Not Allowed")
        sha = body.get("sha")
        if sha and sha != pull.head_sha:
            raise HTTPError(409, f"SHA does not match HEAD of source branch: {pull.head_sha}")
        status, _ = self._merge_status(pull)
        if status != "mergeable":
            if status == "conflict":
                raise HTTPError(406, "Branch cannot be merged")
            raise HTTPError(405, pull.merge_block or "405 Method Not Allowed")
        project = self.project(pull.repo)  # type: ignore[attr-defined]
        base = bare_git.resolve(project.bare, pull.base_ref)
        squash = str(body.get("squash")).lower() == "true"
        message = str(
            body.get("merge_commit_message")
            or f"Merge branch '{pull.head_ref}' into '{pull.base_ref}'\n\n{pull.title}\n\n"
            f"See merge request {project.path}!{pull.number}"
        )
        title, _, rest = message.partition("\n")
        try:
            tip = bare_git.merge(
                project.bare,
                base_branch=pull.base_ref,
                expected_base=base or "",
                head_sha=pull.head_sha,
                method="squash" if squash else "merge",
                title=title,
                message=rest.strip(),
                author=(actor, f"{actor}@example.com"),
            )
        except bare_git.MergeConflict as error:
            raise HTTPError(406, "Branch cannot be merged") from error
        pull.state, pull.merged, pull.merge_commit_sha, pull.merged_by = "closed", True, tip, actor
        pull.updated_at = _now()
        # The merge is GitLab's own push: announce it now, before the merge request hook.
        self.collect_pushes(pusher=actor)  # type: ignore[attr-defined]
        self.emit_pull(pull, "merge", actor)
        return tip

    def _merge_status(self, pull: Pull) -> tuple[str, bool]:
        project = self.project(pull.repo)  # type: ignore[attr-defined]
        if pull.state != "open":
            return "not_open", False
        base = bare_git.resolve(project.bare, pull.base_ref)
        conflicts = bool(base) and bare_git.has_conflicts(project.bare, base or "", pull.head_sha)
        if conflicts:
            return "conflict", True
        if pull.draft:
            return "draft_status", False
        if pull.merge_block is not None:
            return "blocked_status", False  # a rule GitLab enforces (block_merge's message says which)
        if project.requires_pipeline and pull.pipeline != "success":
            return (
                "ci_still_running" if pull.pipeline in (None, "running", "pending") else "ci_must_pass"
            ), False
        return "mergeable", False

    def sync_ref(self, pull: Pull) -> None:
        project = self.project(pull.repo)  # type: ignore[attr-defined]
        if pull.source_project != project.path:
            source = self.project(pull.source_project)  # type: ignore[attr-defined]
            bare_git.git(
                project.bare,
                "fetch",
                "-q",
                str(source.bare),
                f"+{pull.head_sha}:refs/merge-requests/{pull.number}/head",
            )
        else:
            bare_git.git(project.bare, "update-ref", f"refs/merge-requests/{pull.number}/head", pull.head_sha)

    def _diffs(self, project: Project, pull: Pull) -> list[dict[str, Any]]:
        base = bare_git.resolve(project.bare, pull.base_ref) or pull.head_sha
        out = []
        for change in bare_git.changed_files(project.bare, base, pull.head_sha):
            out.append(
                {
                    "old_path": change.previous_filename or change.filename,
                    "new_path": change.filename,
                    "a_mode": "100644",
                    "b_mode": "100644",
                    "diff": "",
                    "new_file": change.status == "added",
                    "renamed_file": change.status == "renamed",
                    "deleted_file": change.status == "removed",
                    "generated_file": False,
                }
            )
        return out

    def _list_pulls(self, project: Project, query: dict[str, str]) -> Answer:
        state = {"opened": "open", "closed": "closed", "merged": "merged"}.get(
            query.get("state", "all"), "all"
        )
        found = []
        for (repo, _), pull in sorted(self._pulls.items()):
            if repo != project.path:
                continue
            if state == "merged" and not pull.merged:
                continue
            if state == "open" and pull.state != "open":
                continue
            if state == "closed" and (pull.state != "closed" or pull.merged):
                continue
            if query.get("source_branch") and pull.head_ref != query["source_branch"]:
                continue
            found.append(self.pull_json(pull, full=False))
        if query.get("sort") == "desc" or "sort" not in query:
            found.reverse()
        return self._paged(found, query)

    def _paged(self, items: list[dict[str, Any]], query: dict[str, str]) -> Answer:
        per_page = max(1, min(100, int(query.get("per_page") or 20)))
        if query.get("pagination") == "keyset":
            after = int(query.get("id_after") or 0)
            rest = [item for item in items if int(item.get("id", 0)) > after] if after else items
            page, more = rest[:per_page], len(rest) > per_page
            headers: dict[str, str] = {}
            if more:
                params = {**query, "id_after": str(page[-1]["id"])}
                headers["Link"] = (
                    f'<{self.base_url}{self._path_now}?{urllib.parse.urlencode(params)}>; rel="next"'  # type: ignore[attr-defined]
                )
            return 200, page, headers
        number = max(1, int(query.get("page") or 1))
        total_pages = max(1, -(-len(items) // per_page))
        page = items[(number - 1) * per_page : number * per_page]
        headers = {
            "X-Page": str(number),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(total_pages),
            "X-Next-Page": str(number + 1) if number < total_pages else "",
            "X-Prev-Page": str(number - 1) if number > 1 else "",
        }
        if number < total_pages:
            params = {**query, "page": str(number + 1)}
            headers["Link"] = (
                f'<{self.base_url}{self._path_now}?{urllib.parse.urlencode(params)}>; rel="next"'  # type: ignore[attr-defined]
            )
        return 200, page, headers

    # -- files, members, statuses, issues --------------------------------------------------------

    def _raw_file(self, project: Project, path: str, query: dict[str, str]) -> Answer:
        ref = query.get("ref") or project.default_branch
        commit = bare_git.resolve(project.bare, ref)
        if commit is None:
            raise HTTPError(404, "404 Commit Not Found")
        entry = bare_git.entry(project.bare, commit, path)
        if entry is None or entry.kind != "blob":
            raise HTTPError(404, "404 File Not Found")
        return 200, bare_git.blob(project.bare, entry.sha) or b"", {}

    def _member(self, members: dict[str, int], user_id: int) -> Answer:
        by_id = {uid: name for name, uid in self._users.items()}
        name = by_id.get(user_id)
        if name is None or name not in members:
            raise HTTPError(404, "404 Not found")
        return 200, {**self._user_json(name), "access_level": members[name], "state": "active"}, {}

    def _create_status(self, project: Project, sha: str, body: dict[str, Any]) -> Answer:
        state = str(body.get("state") or "")
        if state not in ("pending", "running", "success", "failed", "canceled", "skipped"):
            raise HTTPError(400, "state does not have a valid value")
        name = str(body.get("name") or body.get("context") or "default")
        history = self._statuses.setdefault(sha, [])
        latest = next((s for s in reversed(history) if s["name"] == name), None)
        if latest is not None and latest["status"] == state:
            raise HTTPError(
                400,
                f"Cannot transition status via :{_verb(state)} from :{state} "
                f'(Reason(s): Status cannot transition via "{_verb(state)}")',
            )
        status = {
            "id": next(self._ids),
            "sha": sha,
            "ref": None,
            "status": state,
            "name": name,
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "created_at": _now(),
            "author": self._user_json(self.bot_login()),  # type: ignore[attr-defined]
        }
        history.append(status)
        return 201, status, {}

    def _issue_route(
        self, method: str, project: Project, rest: str, query: dict[str, str], body: dict[str, Any]
    ) -> Answer:
        if rest == "/issues" and method == "GET":
            found = [
                issue
                for (repo, _), issue in sorted(self._issues.items())
                if repo == project.path
                and (query.get("state") != "opened" or issue["state"] == "opened")
                and query.get("search", "").lower() in issue["title"].lower()
            ]
            return self._paged(found, query)
        if rest == "/issues" and method == "POST":
            iid = self._next_iid.get(project.path, 0) + 1
            self._next_iid[project.path] = iid
            issue = {
                "id": next(self._ids),
                "iid": iid,
                "title": body.get("title"),
                "description": body.get("description") or "",
                "state": "opened",
                "web_url": f"{self.base_url}/{project.path}/-/issues/{iid}",
            }  # type: ignore[attr-defined]
            self._issues[(project.path, iid)] = issue
            return 201, issue, {}
        match = re.fullmatch(r"/issues/(\d+)", rest)
        issue = self._issues.get((project.path, int(match.group(1)))) if match else None
        if issue is None:
            raise HTTPError(404, "404 Issue Not Found")
        if method == "PUT":
            if "description" in body:
                issue["description"] = body["description"]
            if body.get("state_event") == "close":
                issue["state"] = "closed"
        return 200, issue, {}

    # -- notes ------------------------------------------------------------------------------------

    def add_note(self, pull: Pull, body: str, user: str) -> Note:
        from tests.support.gitlab_standin import Note

        note = Note(next(self._ids), pull.repo, pull.number, body, user)
        self._notes[note.id] = note
        return note

    @staticmethod
    def check_note(body: Any, *, allow_empty: bool = False) -> str:
        if not isinstance(body, str) or (not body and not allow_empty):
            raise HTTPError(400, '400 Bad request - Note {:note=>["can\'t be blank"]}')
        if len(body) > MAX_NOTE:
            raise HTTPError(400, {"note": [f"is too long (maximum is {MAX_NOTE} characters)"]})
        return body

    # -- JSON -------------------------------------------------------------------------------------

    def _user_json(self, login: str) -> dict[str, Any]:
        user_id = self.user_id(login)  # type: ignore[attr-defined]
        return {
            "id": user_id,
            "username": login,
            "name": login.title(),
            "state": "active",
            "locked": False,
            "avatar_url": None,
            "web_url": f"{self.base_url}/{login}",  # type: ignore[attr-defined]
        }

    def _project_json(self, project: Project) -> dict[str, Any]:
        namespace, _, name = project.path.rpartition("/")
        web = f"{self.base_url}/{project.path}"  # type: ignore[attr-defined]
        return {
            "id": project.id,
            "name": name,
            "path": name,
            "path_with_namespace": project.path,
            "name_with_namespace": project.path.replace("/", " / "),
            "namespace": {
                "id": project.id + 1,
                "name": namespace,
                "path": namespace.rsplit("/", 1)[-1],
                "kind": "group",
                "full_path": namespace,
            },
            "default_branch": project.default_branch,
            "visibility": "private",
            "web_url": web,
            "http_url_to_repo": f"{web}.git",
            "ssh_url_to_repo": f"git@127.0.0.1:{project.path}.git",
            "only_allow_merge_if_pipeline_succeeds": project.requires_pipeline,
        }

    def pull_json(self, pull: Pull, *, full: bool) -> dict[str, Any]:
        project = self.project(pull.repo)  # type: ignore[attr-defined]
        source = self.project(pull.source_project)  # type: ignore[attr-defined]
        status, conflicts = self._merge_status(pull)
        base = bare_git.resolve(project.bare, pull.base_ref) or ""
        state = "merged" if pull.merged else ("opened" if pull.state == "open" else "closed")
        data = {
            "id": pull.id,
            "iid": pull.number,
            "project_id": project.id,
            "title": f"Draft: {pull.title}" if pull.draft else pull.title,
            "description": pull.body,
            "state": state,
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "merged_by": self._user_json(pull.merged_by) if pull.merged_by else None,
            "merge_user": self._user_json(pull.merged_by) if pull.merged_by else None,
            "target_branch": pull.base_ref,
            "source_branch": pull.head_ref,
            "author": self._user_json(pull.user),
            "assignees": [],
            "reviewers": [self._user_json(name) for name in pull.requested_reviewers],
            "source_project_id": source.id,
            "target_project_id": project.id,
            "labels": list(pull.labels),
            "draft": pull.draft,
            "work_in_progress": pull.draft,
            "merge_when_pipeline_succeeds": pull.auto_merge is not None,
            "merge_status": "can_be_merged" if status == "mergeable" else "cannot_be_merged",
            "detailed_merge_status": status,
            "sha": pull.head_sha,
            "merge_commit_sha": pull.merge_commit_sha,
            "squash_commit_sha": None,
            "squash": False,
            "has_conflicts": conflicts,
            "references": {"short": f"!{pull.number}", "full": f"{project.path}!{pull.number}"},
            "web_url": f"{self.base_url}/{project.path}/-/merge_requests/{pull.number}",  # type: ignore[attr-defined]
        }
        if full:
            merge_base = bare_git.merge_base(project.bare, base, pull.head_sha) if base else None
            data["diff_refs"] = {"base_sha": merge_base or base, "head_sha": pull.head_sha, "start_sha": base}
            data["head_pipeline"] = {"status": pull.pipeline} if pull.pipeline else None
        return data

    def _note_json(self, note: Note) -> dict[str, Any]:
        pull = self._pulls[(note.repo, note.number)]
        return {
            "id": note.id,
            "type": None,
            "body": note.body,
            "author": self._user_json(note.user),
            "created_at": note.created_at,
            "updated_at": note.updated_at,
            "system": note.system,
            "noteable_id": pull.id,
            "noteable_type": "MergeRequest",
            "noteable_iid": pull.number,
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }


def _labels(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value if str(item)]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _strip_draft(title: str) -> str:
    for prefix in ("draft:", "[draft]", "(draft)"):
        if title.lower().startswith(prefix):
            return title[len(prefix) :].strip()
    return title


def _verb(state: str) -> str:
    return {
        "running": "run",
        "success": "succeed",
        "failed": "drop",
        "canceled": "cancel",
        "pending": "enqueue",
    }.get(state, state)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
