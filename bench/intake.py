"""Intake benchmark: signed GitHub webhooks against `gitops-bot serve`, beside a bare route.

For each target -- a bare FastAPI route that only answers 202 (``bench/bare_app.py``),
`gitops-bot serve` on a fresh SQLite file, and `gitops-bot serve` on a private
PostgreSQL schema -- it starts the server as a subprocess on a free loopback port and
runs, in this order:

1. a short warm-up (not measured);
2. an open-loop run at a fixed rate (default 200 requests/s for 10 s). Each request's
   latency is measured from the moment it was *scheduled*, not from when it was sent,
   so a stalled server cannot hide its stall (no coordinated omission);
3. a closed-loop saturation run with wrk (default concurrency 32 for 20 s), or a
   Python generator when wrk is not installed.

Every request carries the same signed ``pull_request`` body and a unique
``X-GitHub-Delivery``, so each is a new event. After each run against the bot the
rows in ``events`` with that run's delivery-id prefix are counted: an event answered
2xx but not stored is *lost*. The goals: at least half the bare
route's throughput, p99 under 50 ms at 200 requests/s, zero lost.

    .venv/bin/python bench/intake.py [--duration 20] [--concurrency 32] [--rate 200]
                                     [--targets bare,sqlite,postgres] [--skip-postgres]

Not a test: `make bench` runs it; `make test` never does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_POSTGRES_URL = os.environ.get(
    "GITOPS_BOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
HOST = "127.0.0.1"
WEBHOOK_PATH = "/webhooks/github"
GITHUB_EVENT = "pull_request"
ALL_TARGETS = ("bare", "sqlite", "postgres")

# The goals this benchmark judges.
GOAL_THROUGHPUT_RATIO = 0.5
GOAL_P99_MS = 50.0

STARTUP_DEADLINE_S = 60.0
SHUTDOWN_GRACE_S = 15.0
REQUEST_TIMEOUT_S = 10.0
# After a run, rows may still be committing for requests that were in flight.
DRAIN_DEADLINE_S = 15.0
DRAIN_QUIET_S = 0.5
# Above this share of all cores busy before the start, the report warns that others are running.
BUSY_WARNING_PERCENT = 15.0


# -- the request ---------------------------------------------------------------------------


def _user(login: str, user_id: int, kind: str = "User") -> dict[str, Any]:
    api = f"https://api.github.com/users/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": f"MDQ6VXNlcj{user_id:08d}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": kind,
        "user_view_type": "public",
        "site_admin": False,
    }


def _repository(owner: dict[str, Any], name: str, repo_id: int) -> dict[str, Any]:
    full_name = f"{owner['login']}/{name}"
    api = f"https://api.github.com/repos/{full_name}"
    templated = {
        "keys_url": "/keys{/key_id}",
        "collaborators_url": "/collaborators{/collaborator}",
        "issue_events_url": "/issues/events{/number}",
        "assignees_url": "/assignees{/user}",
        "branches_url": "/branches{/branch}",
        "blobs_url": "/git/blobs{/sha}",
        "git_tags_url": "/git/tags{/sha}",
        "git_refs_url": "/git/refs{/sha}",
        "trees_url": "/git/trees{/sha}",
        "statuses_url": "/statuses/{sha}",
        "subscription_url": "/subscription",
        "commits_url": "/commits{/sha}",
        "git_commits_url": "/git/commits{/sha}",
        "comments_url": "/comments{/number}",
        "issue_comment_url": "/issues/comments{/number}",
        "contents_url": "/contents/{+path}",
        "compare_url": "/compare/{base}...{head}",
        "merges_url": "/merges",
        "archive_url": "/{archive_format}{/ref}",
        "downloads_url": "/downloads",
        "issues_url": "/issues{/number}",
        "pulls_url": "/pulls{/number}",
        "milestones_url": "/milestones{/number}",
        "notifications_url": "/notifications{?since,all,participating}",
        "labels_url": "/labels{/name}",
        "releases_url": "/releases{/id}",
        "deployments_url": "/deployments",
        "forks_url": "/forks",
        "teams_url": "/teams",
        "hooks_url": "/hooks",
        "events_url": "/events",
        "tags_url": "/tags",
        "languages_url": "/languages",
        "stargazers_url": "/stargazers",
        "contributors_url": "/contributors",
        "subscribers_url": "/subscribers",
    }
    repository: dict[str, Any] = {
        "id": repo_id,
        "node_id": f"R_kgDOK{repo_id:09d}",
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": owner,
        "html_url": f"https://github.com/{full_name}",
        "description": "GitOps source of truth for the model-serving clusters (Helm values, Terraform)",
        "fork": False,
        "url": api,
    }
    repository.update({key: api + suffix for key, suffix in templated.items()})
    repository.update(
        {
            "created_at": "2023-03-14T09:26:53Z",
            "updated_at": "2024-05-02T10:14:31Z",
            "pushed_at": "2024-05-02T10:14:59Z",
            "git_url": f"git://github.com/{full_name}.git",
            "ssh_url": f"git@github.com:{full_name}.git",
            "clone_url": f"https://github.com/{full_name}.git",
            "svn_url": f"https://github.com/{full_name}",
            "homepage": None,
            "size": 2184,
            "stargazers_count": 3,
            "watchers_count": 3,
            "language": "HCL",
            "has_issues": True,
            "has_projects": False,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": 7,
            "license": None,
            "allow_forking": False,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": ["gitops", "kubernetes", "mlops", "terraform"],
            "visibility": "private",
            "forks": 0,
            "open_issues": 7,
            "watchers": 3,
            "default_branch": "main",
            "allow_squash_merge": True,
            "allow_merge_commit": False,
            "allow_rebase_merge": False,
            "allow_auto_merge": True,
            "delete_branch_on_merge": True,
            "allow_update_branch": True,
            "use_squash_pr_title_as_default": True,
            "squash_merge_commit_message": "PR_BODY",
            "squash_merge_commit_title": "PR_TITLE",
            "merge_commit_message": "PR_TITLE",
            "merge_commit_title": "MERGE_MESSAGE",
        }
    )
    return repository


def pull_request_opened_payload() -> dict[str, Any]:
    """A ``pull_request`` ``opened`` delivery with every field GitHub sends (about 20 KB)."""
    org = _user("acme", 9919, "Organization")
    author = _user("alice", 1001)
    bot = _user("gitops-bot[bot]", 8800123, "Bot")
    repository = _repository(org, "gitops", 612345678)
    number = 42
    head_sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    base_sha = "3b18e512dba79e4c8300dd08aeb37f8e728b8dad"
    pr_api = f"{repository['url']}/pulls/{number}"
    issue_api = f"{repository['url']}/issues/{number}"
    html = f"{repository['html_url']}/pull/{number}"
    pull_request = {
        "url": pr_api,
        "id": 1785624011,
        "node_id": "PR_kwDOKc9qFc5qbn7L",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_api,
        "number": number,
        "state": "open",
        "locked": False,
        "title": "chat-llm-staging: 1.2.2 -> 1.2.3",
        "user": author,
        "body": (
            "Bump `registry.example.com/serving/chat-llm` from `1.2.2` to `1.2.3` in the staging "
            "deployment.\n\n| file | key | old | new |\n| --- | --- | --- | --- |\n"
            "| apps/chat-llm/values-staging.yaml | image.tag | 1.2.2 | 1.2.3 |\n"
            "| terraform/staging/serving.auto.tfvars | chat_llm_version | 1.2.2 | 1.2.3 |\n\n"
            "A canary analysis (ttft_p99, error_rate) runs after merge; on failure the bot opens a "
            "revert pull request."
        ),
        "created_at": "2024-05-02T10:15:00Z",
        "updated_at": "2024-05-02T10:15:00Z",
        "closed_at": None,
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [_user("bob", 1002)],
        "requested_teams": [],
        "labels": [
            {
                "id": 6402938112,
                "node_id": "LA_kwDOKc9qFc8AAAABfaXwAA",
                "url": f"{repository['url']}/labels/model-update",
                "name": "model-update",
                "color": "0e8a16",
                "default": False,
                "description": "Opened by gitops-bot",
            }
        ],
        "milestone": None,
        "draft": False,
        "commits_url": f"{pr_api}/commits",
        "review_comments_url": f"{pr_api}/comments",
        "review_comment_url": f"{repository['url']}/pulls/comments{{/number}}",
        "comments_url": f"{issue_api}/comments",
        "statuses_url": f"{repository['url']}/statuses/{head_sha}",
        "head": {
            "label": "acme:gitops-bot/chat-llm-staging-1.2.3",
            "ref": "gitops-bot/chat-llm-staging-1.2.3",
            "sha": head_sha,
            "user": org,
            "repo": repository,
        },
        "base": {"label": "acme:main", "ref": "main", "sha": base_sha, "user": org, "repo": repository},
        "_links": {
            "self": {"href": pr_api},
            "html": {"href": html},
            "issue": {"href": issue_api},
            "comments": {"href": f"{issue_api}/comments"},
            "review_comments": {"href": f"{pr_api}/comments"},
            "review_comment": {"href": f"{repository['url']}/pulls/comments{{/number}}"},
            "commits": {"href": f"{pr_api}/commits"},
            "statuses": {"href": f"{repository['url']}/statuses/{head_sha}"},
        },
        "author_association": "MEMBER",
        "auto_merge": None,
        "active_lock_reason": None,
        "merged": False,
        "mergeable": None,
        "rebaseable": None,
        "mergeable_state": "unknown",
        "merged_by": None,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": 1,
        "additions": 2,
        "deletions": 2,
        "changed_files": 2,
    }
    organization = {
        "login": org["login"],
        "id": org["id"],
        "node_id": org["node_id"],
        "url": "https://api.github.com/orgs/acme",
        "repos_url": "https://api.github.com/orgs/acme/repos",
        "events_url": "https://api.github.com/orgs/acme/events",
        "hooks_url": "https://api.github.com/orgs/acme/hooks",
        "issues_url": "https://api.github.com/orgs/acme/issues",
        "members_url": "https://api.github.com/orgs/acme/members{/member}",
        "public_members_url": "https://api.github.com/orgs/acme/public_members{/member}",
        "avatar_url": org["avatar_url"],
        "description": "",
    }
    return {
        "action": "opened",
        "number": number,
        "pull_request": pull_request,
        "repository": repository,
        "organization": organization,
        "sender": bot,
        "installation": {"id": 51234567, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNTEyMzQ1Njc="},
    }


def github_signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` as GitHub computes it (written out here, not imported from the bot)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignedRequest:
    """The constant part of every request; only the delivery id changes."""

    body: bytes
    signature: str
    event: str

    def raw(self, host_header: str, delivery_id: str) -> bytes:
        head = (
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\n"
            f"Host: {host_header}\r\n"
            "User-Agent: GitHub-Hookshot/bench\r\n"
            "Accept: */*\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\n"
            f"X-GitHub-Event: {self.event}\r\n"
            f"X-GitHub-Delivery: {delivery_id}\r\n"
            "X-GitHub-Hook-ID: 470001\r\n"
            f"X-Hub-Signature-256: {self.signature}\r\n"
            "\r\n"
        )
        return head.encode("ascii") + self.body


# -- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads), from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the ")" that ends the command name, utime and stime are fields 12 and 13.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores since boot, from /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def machine_cpu_percent(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Share of all cores that were busy between two readings (100 = every core busy)."""
    if before is None or after is None or after[1] == before[1]:
        return None
    return round(100.0 * (after[0] - before[0]) / (after[1] - before[1]), 1)


class ServerProcess:
    """One uvicorn server as a subprocess in its own session, so Ctrl-C reaches only us."""

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.log_path = cwd / f"{name}-server.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*command, "--host", HOST, "--port", str(self.port)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_lines(self) -> list[str]:
        try:
            return [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return []

    def _get(self, path: str) -> int | None:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=2)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        except OSError:
            return None
        finally:
            connection.close()

    def wait_ready(self, deadline_s: float = STARTUP_DEADLINE_S) -> float:
        """Poll /healthz then /readyz until both answer 200; returns the seconds it took."""
        started = time.monotonic()
        pending = ["/healthz", "/readyz"]
        while pending:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} server exited with status {self.process.returncode} before it was "
                    f"ready; its log ends:\n{self.log_tail()}"
                )
            if time.monotonic() - started > deadline_s:
                raise RuntimeError(
                    f"{self.name} server did not answer 200 on {pending[0]} within {deadline_s:.0f} s; "
                    f"its log ends:\n{self.log_tail()}"
                )
            if self._get(pending[0]) == 200:
                pending.pop(0)
            else:
                time.sleep(0.1)
        return time.monotonic() - started

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """SIGINT (uvicorn's graceful shutdown), then SIGKILL after a grace period."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=SHUTDOWN_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=SHUTDOWN_GRACE_S)
        self._log.close()


def server_environment(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without any GITOPS_BOT_* setting, plus the bench's own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GITOPS_BOT_")}
    # The server runs in a scratch directory (so no stray .env is read): make the
    # repository importable from there even without an editable install.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


# -- event stores ----------------------------------------------------------------------------


class EventCounter:
    """Reads back what the bot stored, by delivery-id prefix (each run has its own)."""

    description: str

    def delivery_ids(self, prefix: str) -> set[str]:
        raise NotImplementedError

    def statuses(self, prefix: str) -> dict[str, int]:
        raise NotImplementedError

    def count(self, prefix: str) -> int:
        return len(self.delivery_ids(prefix))

    def wait_settled(self, prefix: str, expected_at_most: int) -> int:
        """Count the run's rows once they stop changing (requests still in flight may commit late)."""
        deadline = time.monotonic() + DRAIN_DEADLINE_S
        last = self.count(prefix)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if last >= expected_at_most and time.monotonic() - quiet_since >= 0.1:
                return last
            time.sleep(0.1)
            current = self.count(prefix)
            if current != last:
                last, quiet_since = current, time.monotonic()
            elif time.monotonic() - quiet_since >= DRAIN_QUIET_S:
                return last
        return last


class SqliteCounter(EventCounter):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"SQLite file ({path.name}, WAL)"

    def _query(self, sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            return list(connection.execute(sql, parameters))
        finally:
            connection.close()

    def delivery_ids(self, prefix: str) -> set[str]:
        rows = self._query(
            "SELECT delivery_id FROM events WHERE source = 'github' AND delivery_id LIKE ?", [prefix + "%"]
        )
        return {row[0] for row in rows}

    def count(self, prefix: str) -> int:
        rows = self._query(
            "SELECT count(*) FROM events WHERE source = 'github' AND delivery_id LIKE ?", [prefix + "%"]
        )
        return int(rows[0][0])

    def statuses(self, prefix: str) -> dict[str, int]:
        rows = self._query(
            "SELECT status, count(*) FROM events WHERE source = 'github' AND delivery_id LIKE ? "
            "GROUP BY status",
            [prefix + "%"],
        )
        return {str(status): int(count) for status, count in rows}


class PostgresCounter(EventCounter):
    def __init__(self, conninfo: str, schema: str) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.description = f"PostgreSQL schema {schema}"

    def _query(self, sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            return list(connection.execute(sql.replace("events", f'"{self.schema}".events'), parameters))

    def delivery_ids(self, prefix: str) -> set[str]:
        rows = self._query(
            "SELECT delivery_id FROM events WHERE source = 'github' AND delivery_id LIKE %s", [prefix + "%"]
        )
        return {row[0] for row in rows}

    def count(self, prefix: str) -> int:
        rows = self._query(
            "SELECT count(*) FROM events WHERE source = 'github' AND delivery_id LIKE %s", [prefix + "%"]
        )
        return int(rows[0][0])

    def statuses(self, prefix: str) -> dict[str, int]:
        rows = self._query(
            "SELECT status, count(*) FROM events WHERE source = 'github' AND delivery_id LIKE %s "
            "GROUP BY status",
            [prefix + "%"],
        )
        return {str(status): int(count) for status, count in rows}


@contextlib.contextmanager
def postgres_schema(server_url: str) -> Iterator[tuple[str, str, str]]:
    """A fresh private schema: yields (SQLAlchemy URL for the bot, psycopg conninfo, schema)."""
    import psycopg

    schema = f"gitops_bot_bench_{uuid.uuid4().hex[:12]}"
    conninfo = server_url.replace("+psycopg", "")
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in server_url else "?"
        yield f"{server_url}{separator}options=-csearch_path%3D{schema}", conninfo, schema
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def postgres_problem(server_url: str) -> str | None:
    """None when the server answers; else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(server_url.replace("+psycopg", ""), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {server_url} is unreachable: {str(exc).strip()}"


# -- a minimal HTTP/1.1 client on asyncio streams -------------------------------------------
# The Python generators measure latency themselves; a bare client keeps their own overhead
# (which shares the CPU with the server) far below httpx's.


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False

    def close(self) -> None:
        self.writer.close()


class _NoResponse(Exception):
    """The connection closed before any byte of a response arrived."""


class ConnectionPool:
    def __init__(self, host: str, port: int, max_connections: int) -> None:
        self.host = host
        self.port = port
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self.opened = 0

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened += 1
        return _Connection(reader, writer)

    @staticmethod
    async def _exchange(connection: _Connection, raw: bytes) -> tuple[int, bool]:
        """Send one request, read the whole response; returns (status, keep the connection)."""
        connection.writer.write(raw)
        await connection.writer.drain()
        status_line = await connection.reader.readline()
        if not status_line:
            raise _NoResponse()
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, keep = 0, False, True
        while True:
            line = await connection.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"connection" and value == b"close":
                keep = False
        if chunked:
            while True:
                size = int((await connection.reader.readline()).split(b";")[0], 16)
                await connection.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await connection.reader.readexactly(length)
        return status, keep

    async def request(self, raw: bytes) -> int:
        async with self._slots:
            for _attempt in range(2):
                connection = self._idle.pop() if self._idle else await self._open()
                reused = connection.used
                connection.used = True
                try:
                    status, keep = await self._exchange(connection, raw)
                except (_NoResponse, ConnectionResetError, BrokenPipeError) as exc:
                    connection.close()
                    # A kept-alive connection the server closed meanwhile: retry once on a new one,
                    # as every HTTP client does. The delivery id is the same, so no double event.
                    if reused:
                        continue
                    raise ConnectionError(str(exc) or type(exc).__name__) from exc
                except BaseException:
                    connection.close()
                    raise
                if keep:
                    self._idle.append(connection)
                else:
                    connection.close()
                return status
            raise ConnectionError("the server closed the connection twice without answering")

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()


# -- measurements -----------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


@dataclass
class LoadResult:
    """One run of one generator against one target."""

    generator: str  # wrk | python-closed | python-open
    duration_s: float
    sent: int
    answered: int
    ok_2xx: int
    non_2xx: int
    socket_errors: int
    statuses: dict[str, int]
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None
    generator_cpu_s: float | None = None
    server_cpu_s: float | None = None
    machine_cpu_percent: float | None = None
    target_rate: float | None = None
    max_send_lag_ms: float | None = None
    prefix: str = ""
    acknowledged_ids: list[str] | None = field(default=None, repr=False)
    raw_output: str | None = field(default=None, repr=False)
    # Filled in for bot targets after the run.
    stored: int | None = None
    lost: int | None = None
    lost_upper_bound: int | None = None
    stored_unacknowledged: int | None = None
    stored_statuses: dict[str, int] | None = None

    @property
    def accepted_per_s(self) -> float:
        return self.ok_2xx / self.duration_s if self.duration_s else 0.0

    @property
    def in_flight_at_end(self) -> int:
        return max(0, self.sent - self.answered - self.socket_errors)

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_s is None or not self.ok_2xx:
            return None
        return 1000.0 * self.server_cpu_s / self.ok_2xx

    @property
    def server_cpu_percent(self) -> float | None:
        if self.server_cpu_s is None or not self.duration_s:
            return None
        return 100.0 * self.server_cpu_s / self.duration_s

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("acknowledged_ids")
        data.update(
            accepted_per_s=round(self.accepted_per_s, 1),
            in_flight_at_end=self.in_flight_at_end,
            server_cpu_percent=None if self.server_cpu_percent is None else round(self.server_cpu_percent),
            server_cpu_ms_per_request=(
                None if self.server_cpu_ms_per_request is None else round(self.server_cpu_ms_per_request, 3)
            ),
        )
        return data


def _ms_summary(latencies_s: list[float]) -> dict[str, float | None]:
    ordered = sorted(latencies_s)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 3)

    return {
        "p50_ms": ms(percentile(ordered, 0.50)),
        "p90_ms": ms(percentile(ordered, 0.90)),
        "p99_ms": ms(percentile(ordered, 0.99)),
        "p999_ms": ms(percentile(ordered, 0.999)),
        "max_ms": ms(ordered[-1] if ordered else None),
    }


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _event_loop_runner() -> Callable[[Any], Any]:
    """uvloop when present (uvicorn[standard] brings it): less client overhead on shared cores."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


async def _open_loop(
    port: int, request: SignedRequest, prefix: str, rate: float, duration_s: float, max_connections: int
) -> LoadResult:
    pool = ConnectionPool(HOST, port, max_connections)
    host_header = f"{HOST}:{port}"
    total = max(1, round(rate * duration_s))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    acknowledged: list[str] = []
    errors = 0
    max_lag = 0.0

    async def one(index: int, scheduled: float) -> None:
        nonlocal errors
        delivery_id = f"{prefix}-{index}"
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                status = await pool.request(request.raw(host_header, delivery_id))
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            return
        # Measured from the scheduled send time: a request that had to wait for a
        # connection or for the generator itself still counts that wait.
        latencies.append(time.perf_counter() - scheduled)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if 200 <= status < 300:
            acknowledged.append(delivery_id)

    cpu_before, machine_before = _self_cpu(), machine_cpu()
    # perf_counter, not loop.time(): uvloop's clock has millisecond resolution.
    start = time.perf_counter() + 0.05
    tasks: list[asyncio.Task[None]] = []
    try:
        for index in range(total):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            max_lag = max(max_lag, time.perf_counter() - scheduled)
            tasks.append(asyncio.create_task(one(index, scheduled)))
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        pool.close()
    elapsed = time.perf_counter() - start
    ok = sum(count for status, count in statuses.items() if status.startswith("2"))
    return LoadResult(
        generator="python-open",
        duration_s=round(elapsed, 3),
        sent=total,
        answered=len(latencies),
        ok_2xx=ok,
        non_2xx=len(latencies) - ok,
        socket_errors=errors,
        statuses=statuses,
        generator_cpu_s=round(_self_cpu() - cpu_before, 3),
        machine_cpu_percent=machine_cpu_percent(machine_before, machine_cpu()),
        target_rate=rate,
        max_send_lag_ms=round(max_lag * 1000.0, 3),
        prefix=prefix,
        acknowledged_ids=acknowledged,
        **_ms_summary(latencies),
    )


async def _closed_loop(
    port: int, request: SignedRequest, prefix: str, concurrency: int, duration_s: float
) -> LoadResult:
    pool = ConnectionPool(HOST, port, concurrency)
    host_header = f"{HOST}:{port}"
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    acknowledged: list[str] = []
    counters = {"sent": 0, "errors": 0}
    deadline = time.perf_counter() + duration_s

    async def client(client_id: int) -> None:
        sequence = 0
        while time.perf_counter() < deadline:
            sequence += 1
            delivery_id = f"{prefix}-{client_id}-{sequence}"
            counters["sent"] += 1
            started = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    status = await pool.request(request.raw(host_header, delivery_id))
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                counters["errors"] += 1
                continue
            latencies.append(time.perf_counter() - started)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if 200 <= status < 300:
                acknowledged.append(delivery_id)

    cpu_before, machine_before = _self_cpu(), machine_cpu()
    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(index) for index in range(concurrency)))
    finally:
        pool.close()
    elapsed = time.perf_counter() - started
    ok = sum(count for status, count in statuses.items() if status.startswith("2"))
    return LoadResult(
        generator="python-closed",
        duration_s=round(elapsed, 3),
        sent=counters["sent"],
        answered=len(latencies),
        ok_2xx=ok,
        non_2xx=len(latencies) - ok,
        socket_errors=counters["errors"],
        statuses=statuses,
        generator_cpu_s=round(_self_cpu() - cpu_before, 3),
        machine_cpu_percent=machine_cpu_percent(machine_before, machine_cpu()),
        prefix=prefix,
        acknowledged_ids=acknowledged,
        **_ms_summary(latencies),
    )


# wrk: each thread has its own Lua state. `setup` runs in the main state once per thread
# (so it can number them and keep them for `done`); `init` runs inside each thread.
WRK_SCRIPT = r"""
local acknowledged_path = ACKNOWLEDGED_PATH
local threads = {}
local next_thread_id = 0

function setup(thread)
  next_thread_id = next_thread_id + 1
  thread:set("thread_id", next_thread_id)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  payload = file:read("*a")
  file:close()
  prefix = args[3]
  sent, ok, failed = 0, 0, 0
  statuses = {}
  acknowledged, acknowledged_count = {}, 0
  request_headers = {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "GitHub-Hookshot/bench",
    ["Accept"] = "*/*",
    ["X-GitHub-Event"] = args[4],
    ["X-GitHub-Hook-ID"] = "470001",
    ["X-Hub-Signature-256"] = args[2],
  }
end

function request()
  sent = sent + 1
  request_headers["X-GitHub-Delivery"] = prefix .. "-" .. thread_id .. "-" .. sent
  return wrk.format("POST", nil, request_headers, payload)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    -- The bot's answer names the delivery it stored: collect them for an exact loss count.
    local delivery_id = body and string.match(body, '"delivery_id"%s*:%s*"([^"]+)"')
    if delivery_id then
      acknowledged_count = acknowledged_count + 1
      acknowledged[acknowledged_count] = delivery_id
    end
  else
    failed = failed + 1
  end
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total_sent, total_ok, total_failed = 0, 0, 0
  local by_status = {}
  local out = assert(io.open(acknowledged_path, "w"))
  for _, thread in ipairs(threads) do
    for _, delivery_id in ipairs(thread:get("acknowledged")) do
      out:write(delivery_id, "\n")
    end
    total_sent = total_sent + thread:get("sent")
    total_ok = total_ok + thread:get("ok")
    total_failed = total_failed + thread:get("failed")
    for status, count in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + count
    end
  end
  out:close()
  local e = summary.errors
  io.write(string.format("BENCH duration_us %d\n", summary.duration))
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH sent %d\n", total_sent))
  io.write(string.format("BENCH ok %d\n", total_ok))
  io.write(string.format("BENCH failed %d\n", total_failed))
  io.write(string.format("BENCH socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("BENCH p%s_us %d\n", tostring(p), latency:percentile(p)))
  end
  io.write(string.format("BENCH max_us %d\n", latency.max))
  for status, count in pairs(by_status) do
    io.write(string.format("BENCH status_%d %d\n", status, count))
  end
end
"""


def wrk_version(wrk: str) -> str:
    # `wrk --version` prints the version line, then the usage, and exits 1.
    completed = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    lines = (completed.stdout or completed.stderr).splitlines()
    return lines[0].strip() if lines else "unknown"


def run_wrk(
    wrk: str,
    server: ServerProcess,
    request: SignedRequest,
    prefix: str,
    concurrency: int,
    duration_s: int,
    scratch: Path,
) -> LoadResult:
    script = scratch / "intake.lua"
    acknowledged_file = scratch / f"{prefix}-acknowledged.txt"
    # A JSON string literal is a valid Lua string literal for a path.
    script.write_text(WRK_SCRIPT.replace("ACKNOWLEDGED_PATH", json.dumps(str(acknowledged_file)), 1))
    body_file = scratch / "body.json"
    body_file.write_bytes(request.body)
    threads = max(1, min(2, concurrency))
    command = [
        wrk,
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{duration_s}s",
        "--latency",
        "--timeout",
        f"{int(REQUEST_TIMEOUT_S)}s",
        "-s",
        str(script),
        server.base_url + WEBHOOK_PATH,
        "--",
        str(body_file),
        request.signature,
        prefix,
        request.event,
    ]
    children_before, machine_before = _children_cpu(), machine_cpu()
    server_before = server.cpu_seconds()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=duration_s + 60)
    except BaseException:
        process.kill()
        process.wait()
        raise
    server_after, machine_after = server.cpu_seconds(), machine_cpu()
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with status {process.returncode}:\n{stderr}\n{stdout}")
    values = {
        match.group(1): int(float(match.group(2)))
        for match in re.finditer(r"^BENCH (\S+) (\S+)$", stdout, flags=re.MULTILINE)
    }
    needed = ("duration_us", "requests", "sent", "ok", "failed", "socket_errors", "p50_us", "p99_us")
    missing = [name for name in needed if name not in values]
    if missing:
        raise RuntimeError(f"could not read {', '.join(missing)} from wrk's output:\n{stdout}\n{stderr}")

    def ms(key: str) -> float | None:
        return round(values[key] / 1000.0, 3) if key in values else None

    acknowledged = acknowledged_file.read_text().split() if acknowledged_file.exists() else []

    return LoadResult(
        generator="wrk",
        duration_s=round(values["duration_us"] / 1e6, 3),
        sent=values["sent"],
        answered=values["ok"] + values["failed"],
        ok_2xx=values["ok"],
        non_2xx=values["failed"],
        socket_errors=values["socket_errors"],
        statuses={key.removeprefix("status_"): v for key, v in values.items() if key.startswith("status_")},
        p50_ms=ms("p50_us"),
        p90_ms=ms("p90_us"),
        p99_ms=ms("p99_us"),
        p999_ms=ms("p99.9_us"),
        max_ms=ms("max_us"),
        generator_cpu_s=round(_children_cpu() - children_before, 3),
        server_cpu_s=None if server_before is None or server_after is None else server_after - server_before,
        machine_cpu_percent=machine_cpu_percent(machine_before, machine_after),
        prefix=prefix,
        # Only usable when every 2xx answer named its delivery (the bare route's answers name none).
        acknowledged_ids=acknowledged if len(acknowledged) == values["ok"] else None,
        raw_output=stdout,
    )


def run_python(run: Callable[..., Any], server: ServerProcess, coroutine: Any) -> LoadResult:
    """Run one Python generator, and note how much CPU the server used meanwhile."""
    server_before = server.cpu_seconds()
    result: LoadResult = run(coroutine)
    server_after = server.cpu_seconds()
    if server_before is not None and server_after is not None:
        result.server_cpu_s = round(server_after - server_before, 3)
    return result


def account(result: LoadResult, counter: EventCounter) -> None:
    """Compare what was acknowledged with what was stored, exactly where the ids are known."""
    expected_at_most = result.sent
    stored = counter.wait_settled(result.prefix, expected_at_most)
    result.stored = stored
    result.stored_statuses = counter.statuses(result.prefix)
    if result.acknowledged_ids is not None:
        # Every acknowledged delivery id is known (Python generators send them; the bot's
        # answers name them for wrk): the count is exact.
        stored_ids = counter.delivery_ids(result.prefix)
        acknowledged = set(result.acknowledged_ids)
        result.lost = len(acknowledged - stored_ids)
        result.lost_upper_bound = result.lost
        result.stored_unacknowledged = len(stored_ids - acknowledged)
        return
    # Counts only. Requests wrk abandoned at the deadline (sent, never answered) may or may
    # not have been stored, so "2xx minus stored" is exact only up to those.
    unanswered = max(0, result.sent - result.answered)
    result.lost = max(0, result.ok_2xx - stored)
    result.lost_upper_bound = max(0, result.ok_2xx + unanswered - stored)
    result.stored_unacknowledged = max(0, stored - result.ok_2xx)


# -- the targets ------------------------------------------------------------------------------


@dataclass
class TargetReport:
    name: str
    description: str
    status: str = "not run"  # ok | skipped | failed
    reason: str | None = None
    startup_s: float | None = None
    open_loop: LoadResult | None = None
    closed_loop: LoadResult | None = None
    server_log_lines: int = 0
    server_log_sample: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "reason": self.reason,
            "startup_s": self.startup_s,
            "open_loop": self.open_loop.as_json() if self.open_loop else None,
            "closed_loop": self.closed_loop.as_json() if self.closed_loop else None,
            "server_log_lines": self.server_log_lines,
            "server_log_sample": self.server_log_sample,
        }


@dataclass(frozen=True)
class Options:
    duration: int
    concurrency: int
    rate: float
    open_loop_duration: float
    warmup: float
    targets: tuple[str, ...]
    postgres_url: str
    payload: Path | None
    event: str
    output_dir: Path
    generator: str  # auto | wrk | python


def migrate(env: dict[str, str], cwd: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"`gitops-bot migrate` failed:\n{completed.stdout}\n{completed.stderr}")


def warm_up(run: Callable[..., Any], server: ServerProcess, request: SignedRequest, seconds: float) -> None:
    if seconds <= 0:
        return
    prefix = f"warmup-{uuid.uuid4().hex[:8]}"
    result = run(_closed_loop(server.port, request, prefix, 4, seconds))
    if result.ok_2xx == 0:
        raise RuntimeError(
            f"{server.name}: no 2xx answer during warm-up (statuses {result.statuses}, "
            f"{result.socket_errors} socket errors); server log ends:\n{server.log_tail()}"
        )


def bench_target(
    report: TargetReport,
    server: ServerProcess,
    counter: EventCounter | None,
    request: SignedRequest,
    options: Options,
    wrk: str | None,
    scratch: Path,
) -> None:
    run = _event_loop_runner()
    report.startup_s = round(server.wait_ready(), 2)
    print(f"  {report.name}: ready in {report.startup_s:.1f} s on {server.base_url}", flush=True)
    warm_up(run, server, request, options.warmup)

    run_id = secrets.token_hex(4)
    print(
        f"  {report.name}: open loop, {options.rate:g} requests/s for {options.open_loop_duration:g} s",
        flush=True,
    )
    open_result = run_python(
        run,
        server,
        _open_loop(
            server.port,
            request,
            f"bench-{run_id}-open",
            options.rate,
            options.open_loop_duration,
            max(64, options.concurrency),
        ),
    )
    if counter is not None:
        account(open_result, counter)
    report.open_loop = open_result

    print(
        f"  {report.name}: closed loop, concurrency {options.concurrency} for {options.duration} s "
        f"({'wrk' if wrk else 'Python generator'})",
        flush=True,
    )
    prefix = f"bench-{run_id}-closed"
    if wrk:
        closed_result = run_wrk(wrk, server, request, prefix, options.concurrency, options.duration, scratch)
    else:
        closed_result = run_python(
            run, server, _closed_loop(server.port, request, prefix, options.concurrency, options.duration)
        )
    if counter is not None:
        account(closed_result, counter)
    report.closed_loop = closed_result
    if server.process.poll() is not None:
        raise RuntimeError(f"{report.name} server died during the run; log ends:\n{server.log_tail()}")
    lines = server.log_lines()
    report.server_log_lines = len(lines)
    report.server_log_sample = lines[:5]
    report.status = "ok"


def run_targets(options: Options, request: SignedRequest, secret: str, wrk: str | None) -> list[TargetReport]:
    reports = {
        "bare": TargetReport("bare", "FastAPI route that reads the body and answers 202 (bench/bare_app.py)"),
        "sqlite": TargetReport("sqlite", "gitops-bot serve, SQLite file (WAL) in a temporary directory"),
        "postgres": TargetReport("postgres", "gitops-bot serve, PostgreSQL, fresh private schema"),
    }
    selected = [reports[name] for name in options.targets]
    base_env = {
        "GITOPS_BOT_GITHUB_WEBHOOK_SECRET": secret,
        # WARNING: per-event INFO log lines would otherwise be a large part of the work measured.
        "GITOPS_BOT_LOG_LEVEL": "WARNING",
        # Never act on anything, whatever credentials the environment holds.
        "GITOPS_BOT_DRY_RUN": "true",
    }
    with tempfile.TemporaryDirectory(prefix="gitops-bot-bench-") as scratch_name:
        scratch = Path(scratch_name)
        for report in selected:
            print(f"\n[{report.name}] {report.description}", flush=True)
            workdir = scratch / report.name
            workdir.mkdir()
            try:
                with contextlib.ExitStack() as stack:
                    counter: EventCounter | None = None
                    if report.name == "bare":
                        command = [sys.executable, str(BENCH_DIR / "bare_app.py")]
                        env = server_environment({})
                    else:
                        if report.name == "sqlite":
                            db_path = workdir / "gitops-bot.db"
                            url = f"sqlite:///{db_path}"
                            counter = SqliteCounter(db_path)
                        else:
                            problem = postgres_problem(options.postgres_url)
                            if problem:
                                report.status, report.reason = "skipped", problem
                                print(f"  skipped: {problem}", flush=True)
                                continue
                            url, conninfo, schema = stack.enter_context(postgres_schema(options.postgres_url))
                            counter = PostgresCounter(conninfo, schema)
                        env = server_environment(
                            {
                                **base_env,
                                "GITOPS_BOT_DATABASE_URL": url,
                                "GITOPS_BOT_DATA_DIR": str(workdir / "data"),
                            }
                        )
                        migrate(env, workdir)
                        command = [sys.executable, "-m", "bot", "serve"]
                    server = ServerProcess(report.name, command, env, workdir)
                    stack.callback(server.stop)
                    bench_target(report, server, counter, request, options, wrk, workdir)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                report.status, report.reason = "failed", str(exc)
                print(f"  FAILED: {exc}", flush=True)
            except Exception as exc:  # a database error from a driver, say: report it, go on
                report.status, report.reason = "failed", f"{type(exc).__name__}: {exc}"
                print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
    return selected


# -- report -------------------------------------------------------------------------------------


def _fmt(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _lost_text(result: LoadResult | None) -> str:
    if result is None or result.lost is None:
        return "-"
    if result.lost_upper_bound is not None and result.lost_upper_bound != result.lost:
        return f"{result.lost}..{result.lost_upper_bound}"
    return str(result.lost)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(headers)]
    lines = ["  ".join(header.rjust(width) for header, width in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Goal:
    target: str
    goal: str
    met: bool | None  # None: could not be judged
    detail: str


def judge(reports: Sequence[TargetReport], options: Options) -> list[Goal]:
    by_name = {report.name: report for report in reports}
    bare = by_name.get("bare")
    bare_rate = bare.closed_loop.accepted_per_s if bare and bare.closed_loop else None
    goals: list[Goal] = []
    for report in reports:
        if report.name == "bare" or report.status != "ok":
            continue
        closed, opened = report.closed_loop, report.open_loop
        assert closed is not None and opened is not None
        if bare_rate:
            ratio = closed.accepted_per_s / bare_rate
            goals.append(
                Goal(
                    report.name,
                    f"throughput >= {GOAL_THROUGHPUT_RATIO:.0%} of bare",
                    ratio >= GOAL_THROUGHPUT_RATIO,
                    f"{closed.accepted_per_s:.0f}/s vs {bare_rate:.0f}/s = {ratio:.0%}",
                )
            )
        else:
            goals.append(Goal(report.name, "throughput >= 50% of bare", None, "bare route not measured"))
        clean = opened.socket_errors == 0 and opened.non_2xx == 0
        p99 = opened.p99_ms
        goals.append(
            Goal(
                report.name,
                f"p99 < {GOAL_P99_MS:.0f} ms at {options.rate:g} requests/s",
                p99 is not None and p99 < GOAL_P99_MS and clean,
                f"p99 {_fmt(p99)} ms"
                + ("" if clean else f", {opened.non_2xx} non-2xx, {opened.socket_errors} socket errors"),
            )
        )
        lost_runs = [run for run in (opened, closed) if run.lost is not None]
        worst_upper = max((run.lost_upper_bound or 0) for run in lost_runs) if lost_runs else None
        worst_lower = max((run.lost or 0) for run in lost_runs) if lost_runs else None
        if worst_lower:
            met, detail = False, f"{worst_lower} acknowledged event(s) not stored"
        elif worst_upper:
            met = None
            detail = f"0 proven lost; up to {worst_upper} unprovable (wrk abandoned in-flight requests)"
        else:
            met, detail = True, "every acknowledged event was stored (both runs)"
        goals.append(Goal(report.name, "zero events lost", met, detail))
    return goals


def render(
    reports: Sequence[TargetReport], goals: Sequence[Goal], options: Options, notes: Sequence[str]
) -> str:
    out: list[str] = []
    closed_rows, open_rows = [], []
    for report in reports:
        if report.status != "ok":
            closed_rows.append([report.name, report.status, *["-"] * 12])
            open_rows.append([report.name, report.status, *["-"] * 9])
            continue
        closed, opened = report.closed_loop, report.open_loop
        assert closed is not None and opened is not None
        closed_rows.append(
            [
                report.name,
                _fmt(closed.accepted_per_s, 0),
                _fmt(closed.p50_ms, 2),
                _fmt(closed.p99_ms, 2),
                _fmt(closed.max_ms, 1),
                str(closed.non_2xx),
                str(closed.socket_errors),
                str(closed.sent),
                _fmt(closed.stored),
                _lost_text(closed),
                _fmt(closed.server_cpu_percent, 0),
                _fmt(closed.server_cpu_ms_per_request, 2),
                _fmt(closed.generator_cpu_s / closed.duration_s * 100 if closed.generator_cpu_s else None, 0),
                _fmt(closed.machine_cpu_percent, 0),
            ]
        )
        open_rows.append(
            [
                report.name,
                _fmt(opened.ok_2xx / opened.duration_s if opened.duration_s else None, 0),
                _fmt(opened.p50_ms, 2),
                _fmt(opened.p99_ms, 2),
                _fmt(opened.p999_ms, 2),
                _fmt(opened.max_ms, 1),
                str(opened.non_2xx + opened.socket_errors),
                _fmt(opened.stored),
                _lost_text(opened),
                _fmt(opened.server_cpu_percent, 0),
                _fmt(opened.machine_cpu_percent, 0),
            ]
        )
    generator = reports[0].closed_loop.generator if reports and reports[0].closed_loop else options.generator
    out.append(
        f"\nClosed loop: concurrency {options.concurrency}, {options.duration} s, generator {generator}"
    )
    out.append(
        _table(
            [
                "target",
                "accepted/s",
                "p50 ms",
                "p99 ms",
                "max ms",
                "non-2xx",
                "sock err",
                "sent",
                "stored",
                "lost",
                "srv CPU%",
                "srv ms/req",
                "gen CPU%",
                "all CPU%",
            ],
            closed_rows,
        )
    )
    out.append(
        f"\nOpen loop: {options.rate:g} requests/s for {options.open_loop_duration:g} s "
        "(latency from the scheduled send time)"
    )
    out.append(
        _table(
            [
                "target",
                "ok/s",
                "p50 ms",
                "p99 ms",
                "p99.9 ms",
                "max ms",
                "failed",
                "stored",
                "lost",
                "srv CPU%",
                "all CPU%",
            ],
            open_rows,
        )
    )
    for report in reports:
        if report.status != "ok":
            out.append(f"\n{report.name}: {report.status}: {report.reason}")
    out.append("\nGoals")
    for goal in goals:
        verdict = {True: "MET", False: "NOT MET", None: "UNKNOWN"}[goal.met]
        out.append(f"  {goal.target:<9} {goal.goal:<34} {verdict:<8} {goal.detail}")
    if not goals:
        out.append("  (no bot target was measured)")
    out.append("\nNotes")
    out += [f"  - {note}" for note in notes]
    return "\n".join(out)


def busy_before_start(seconds: float = 1.0) -> float | None:
    """How busy the machine is before we start: other work on it makes every number noisier."""
    before = machine_cpu()
    time.sleep(seconds)
    return machine_cpu_percent(before, machine_cpu())


def environment_notes(
    options: Options, wrk: str | None, request: SignedRequest, busy_percent: float | None
) -> tuple[list[str], dict[str, Any]]:
    cores = os.cpu_count() or 0
    notes = [
        f"{cores} CPU core(s): the load generator runs on the same machine and shares them with the "
        "server, so absolute numbers are lower than on a dedicated server; compare targets, not machines.",
        "One uvicorn process per server, as `gitops-bot serve` runs (workers and scheduler included).",
        "Servers run with GITOPS_BOT_LOG_LEVEL=WARNING (no per-event INFO line) and GITOPS_BOT_DRY_RUN=true.",
        f"Body: one `{request.event}` delivery of {len(request.body)} bytes, signed once; every request has "
        "a unique X-GitHub-Delivery, so each is a new event.",
        "lost = acknowledged (2xx) but not stored, checked per delivery id: the open-loop client knows the "
        "ids it had answered, and wrk's script collects the delivery_id the bot names in each 202. Shown as "
        "a range lo..hi only if answers stop naming it (requests wrk abandons at its deadline are unknowns).",
        "srv CPU% = server process CPU time / run time (100% = one core); srv ms/req = server CPU time per "
        "2xx answer; gen CPU% = the generator's; "
        f"all CPU% = busy share of all {cores} cores (100% = saturated), which includes PostgreSQL's.",
    ]
    if busy_percent is not None and busy_percent > BUSY_WARNING_PERCENT:
        notes.append(
            f"WARNING: the machine was {busy_percent:.0f}% busy before the benchmark started (other "
            "processes): every number here is lower and noisier than on an idle machine."
        )
    if not wrk:
        notes.append(
            "wrk was not found: the closed loop used the Python generator (install the `wrk` package)."
        )
    environment = {
        "cpu_count": cores,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "wrk": wrk_version(wrk) if wrk else None,
        "body_bytes": len(request.body),
        "event": request.event,
        "git_commit": _git_commit(),
        "busy_percent_before_start": busy_percent,
        "load_average_before_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    return notes, environment


def _git_commit() -> str | None:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None


# -- command line -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description="Intake benchmark: signed GitHub webhooks against gitops-bot serve, beside a bare route.",
    )
    parser.add_argument("--duration", type=int, default=20, help="closed-loop seconds per target (20)")
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop connections (32)")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests per second (200)")
    parser.add_argument("--open-duration", type=float, default=10.0, help="open-loop seconds per target (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured warm-up seconds per target (2)")
    parser.add_argument(
        "--targets", default=",".join(ALL_TARGETS), help="comma-separated: bare,sqlite,postgres (all)"
    )
    parser.add_argument("--skip-postgres", action="store_true", help="leave the postgres target out")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="server URL; a private schema is created in it and dropped afterwards",
    )
    parser.add_argument("--payload", type=Path, help="send this JSON file instead of the built-in payload")
    parser.add_argument("--event", default=GITHUB_EVENT, help="X-GitHub-Event for --payload (pull_request)")
    parser.add_argument(
        "--generator",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="closed-loop generator: wrk when installed (auto), or always wrk / always Python",
    )
    parser.add_argument("--output-dir", type=Path, default=BENCH_DIR / "results", help="where the JSON goes")
    args = parser.parse_args(argv)
    targets = tuple(name.strip() for name in args.targets.split(",") if name.strip())
    unknown = [name for name in targets if name not in ALL_TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(ALL_TARGETS)}")
    if args.skip_postgres:
        targets = tuple(name for name in targets if name != "postgres")
    if not targets:
        parser.error("no target left to run")
    if args.duration < 1 or args.concurrency < 1 or args.rate <= 0 or args.open_duration <= 0:
        parser.error("--duration, --concurrency, --rate and --open-duration must be positive")
    if args.payload is not None and not args.payload.is_file():
        parser.error(f"--payload {args.payload}: no such file")
    return Options(
        duration=args.duration,
        concurrency=args.concurrency,
        rate=args.rate,
        open_loop_duration=args.open_duration,
        warmup=args.warmup,
        targets=targets,
        postgres_url=args.postgres_url,
        payload=args.payload,
        event=args.event,
        output_dir=args.output_dir,
        generator=args.generator,
    )


def build_request(options: Options, secret: str) -> SignedRequest:
    if options.payload is not None:
        body = options.payload.read_bytes()
        try:
            json.loads(body)
        except ValueError as exc:
            raise SystemExit(f"--payload {options.payload} is not JSON: {exc}") from exc
    else:
        # Compact, as GitHub sends it.
        body = json.dumps(pull_request_opened_payload(), separators=(",", ":")).encode()
    return SignedRequest(body=body, signature=github_signature(secret, body), event=options.event)


def _raise_keyboard_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    # SIGTERM takes the same clean-up path as Ctrl-C: every server is stopped, every temp dir removed.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    # A shell without job control starts background commands with SIGINT ignored; take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    wrk = shutil.which("wrk") if options.generator != "python" else None
    if options.generator == "wrk" and not wrk:
        raise SystemExit("--generator wrk: wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    secret = secrets.token_hex(32)
    request = build_request(options, secret)
    busy = busy_before_start()
    notes, environment = environment_notes(options, wrk, request, busy)
    started_at = datetime.now(UTC)
    print(
        f"Intake benchmark: targets {', '.join(options.targets)}; {environment['cpu_count']} core(s) shared "
        f"by the server and the load generator; body {len(request.body)} bytes",
        flush=True,
    )
    if busy is not None and busy > BUSY_WARNING_PERCENT:
        print(f"WARNING: the machine is already {busy:.0f}% busy: results will be noisy", flush=True)
    try:
        reports = run_targets(options, request, secret, wrk)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, temporary files removed", file=sys.stderr)
        return 130
    goals = judge(reports, options)
    print(render(reports, goals, options, notes))

    options.output_dir.mkdir(parents=True, exist_ok=True)
    output = options.output_dir / f"intake-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    document = {
        "started_at": started_at.isoformat(),
        "options": {
            "duration_s": options.duration,
            "concurrency": options.concurrency,
            "rate": options.rate,
            "open_loop_duration_s": options.open_loop_duration,
            "warmup_s": options.warmup,
            "targets": list(options.targets),
            "payload": str(options.payload) if options.payload else "built-in pull_request opened",
        },
        "environment": environment,
        "notes": notes,
        "targets": [report.as_json() for report in reports],
        "goals": [asdict(goal) for goal in goals],
    }
    output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nJSON: {output}")
    failed = any(report.status == "failed" for report in reports)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
