"""Several replicas on one PostgreSQL: two `gitops-bot serve` processes and one `gitops-bot worker`.

Real processes, started as an operator starts them (the CLI, settings from the environment),
on one private schema of the PostgreSQL at 127.0.0.1:5432, with the handler set of
``replica_handlers`` (``GITOPS_BOT_HANDLERS``). A burst of 500 signed registry webhooks is spread
over both servers; then the scheduler's leader is killed with SIGKILL while it is running
jobs. Every push must yield its action exactly once, nothing may be lost, exactly one process
may run the periodic tasks at a time, and another must take over within one lease period.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.integration.deploy.replica_handlers import JOB_SECONDS, TABLES
from tests.integration.updates.conftest import FILES, REPO
from tests.support.botenv import distribution_push
from tests.support.databases import postgres_schema_url
from tests.support.github_standin import GitHubStandIn
from tests.support.requirements import require

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "replica-registry-token"
GITHUB_TOKEN = "ghp_replica_token"
EVENTS = 500
JOB_LEASE_SECONDS = 3.0
SCHEDULER_LEASE_SECONDS = 2.0
SCHEDULER_TICK_SECONDS = 0.2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _push(index: int) -> bytes:
    digest = f"sha256:{index:064x}"
    return json.dumps(
        {
            "events": [
                {
                    "id": f"replica-{index}",
                    "timestamp": "2026-01-01T00:00:00Z",
                    "action": "push",
                    "target": {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": digest,
                        "size": 1578,
                        "repository": f"serving/model-{index % 20}",
                        "tag": f"1.{index}.0",
                    },
                    "request": {"id": f"req-{index}", "host": "registry.example.com", "method": "PUT"},
                    "actor": {"name": "ci"},
                }
            ]
        }
    ).encode()


class Cluster:
    """The bot's processes; each started in its own session and stopped by its own pid."""

    def __init__(self, database_url: str, workdir: Path, **settings: str) -> None:
        self.workdir = workdir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GITOPS_BOT_")},
            "PYTHONPATH": str(ROOT),
            "GITOPS_BOT_DATABASE_URL": database_url,
            "GITOPS_BOT_REGISTRY_TOKEN": TOKEN,
            "GITOPS_BOT_HANDLERS": "tests.integration.deploy.replica_handlers:router",
            "GITOPS_BOT_DATA_DIR": str(workdir / "data"),
            "GITOPS_BOT_DRY_RUN": "true",
            "GITOPS_BOT_WORKERS": "4",
            "GITOPS_BOT_JOB_LEASE_SECONDS": str(JOB_LEASE_SECONDS),
            "GITOPS_BOT_JOB_POLL_INTERVAL_SECONDS": "0.1",
            "GITOPS_BOT_SCHEDULER_LEASE_SECONDS": str(SCHEDULER_LEASE_SECONDS),
            "GITOPS_BOT_SCHEDULER_TICK_SECONDS": str(SCHEDULER_TICK_SECONDS),
            "GITOPS_BOT_LOG_LEVEL": "WARNING",
            **{f"GITOPS_BOT_{name.upper()}": value for name, value in settings.items()},
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        # One client for every request: a client per request built a TLS context each time (a
        # large part of this module's CPU), though every URL here is plain HTTP.
        self.http = httpx.Client(timeout=30)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self, name: str, *args: str) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def serve(self, name: str) -> None:
        self.ports[name] = _free_port()
        self.start(name, "serve", "--host", "127.0.0.1", "--port", str(self.ports[name]))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            assert process.poll() is None, f"{name} exited: {self.log(name)}"
            try:
                if self.http.get(self.url(name) + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{name} never became ready: {self.log(name)}")

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def name_of(self, pid: int) -> str:
        return next(name for name, process in self.processes.items() if process.pid == pid)

    def stop(self) -> None:
        self.http.close()
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


@pytest.fixture
def cluster(database_url: str, tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(database_url, tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def _wait(predicate, timeout: float, what: str, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_servers_and_a_worker_do_each_action_once_through_a_burst_and_a_sigkill(
    cluster: Cluster, database_url: str
) -> None:
    t0 = time.monotonic()
    stages: list[tuple[str, float]] = []

    def stage(name: str) -> None:
        stages.append((name, round(time.monotonic() - t0, 2)))

    # Two replicas' init containers migrating the fresh database at the same moment.
    with ThreadPoolExecutor(max_workers=2) as pool:
        migrations = list(pool.map(lambda _: cluster.run("migrate"), range(2)))
    for migrated in migrations:
        assert migrated.returncode == 0, migrated.stderr
    plain = database_url.replace("+psycopg", "")
    db = psycopg.connect(plain, autocommit=True)

    def rows(sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
        return db.execute(sql, params).fetchall()

    for statement in TABLES:
        db.execute(statement)

    cluster.serve("serve-a")
    cluster.serve("serve-b")
    cluster.start("worker", "worker")
    cluster.wait_ready("serve-a")
    cluster.wait_ready("serve-b")
    pids = {cluster.pid(name) for name in cluster.processes}
    stage("ready")

    # One leader before the burst.
    _wait(lambda: rows("SELECT count(*) FROM replica_ticks")[0][0] >= 3, 20, "the scheduler's first ticks")

    # The burst: 500 signed registry pushes, alternating between the two servers, 16 at a time.
    clients = {name: httpx.Client(base_url=cluster.url(name), timeout=30) for name in ("serve-a", "serve-b")}

    def send(index: int) -> int:
        server = "serve-a" if index % 2 == 0 else "serve-b"
        response = clients[server].post(
            "/webhooks/registry",
            content=_push(index),
            headers={
                "Content-Type": "application/vnd.docker.distribution.events.v1+json",
                "Authorization": f"Bearer {TOKEN}",
            },
            timeout=30,
        )
        return response.status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, range(EVENTS)))
    for client in clients.values():
        client.close()
    burst_seconds = time.monotonic() - started
    stage("burst sent")
    assert statuses == [202] * EVENTS, sorted(set(statuses))
    assert rows("SELECT count(*) FROM jobs")[0][0] == EVENTS

    # Kill the scheduler's leader with SIGKILL while it is in the middle of jobs.
    holder = rows("SELECT holder FROM scheduler_leases WHERE name = 'scheduler'")[0][0]
    leader_pid = int(holder.split(":")[1])
    assert leader_pid in pids
    leader = cluster.name_of(leader_pid)
    # Mid-job with room to spare: a job that started less than half a job ago is still running
    # when the signal lands (checking only "unfinished" raced the job's end on a fast machine).
    fresh = JOB_SECONDS / 2
    _wait(
        lambda: rows(
            "SELECT count(*) FROM replica_runs WHERE pid = %s AND finished_at IS NULL"
            " AND started_at > clock_timestamp() - make_interval(secs => %s)",
            leader_pid,
            fresh,
        )[0][0],
        20,
        f"{leader} to be mid-job",
        interval=0.005,
    )
    os.kill(leader_pid, signal.SIGKILL)
    stage("killed")
    killed_at = rows("SELECT clock_timestamp()")[0][0]
    cluster.processes[leader].wait(timeout=10)
    # Cut off mid-job with no effect yet. On a loaded machine a job can outlive its lease and be
    # claimed again by the same process while its first attempt finishes: that one acted already.
    interrupted = {
        delivery
        for (delivery,) in rows(
            "SELECT delivery FROM replica_runs AS run WHERE pid = %s AND finished_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM replica_runs AS done WHERE done.delivery = run.delivery"
            " AND done.finished_at IS NOT NULL)",
            leader_pid,
        )
    }
    assert interrupted, "the kill landed between jobs"

    # Everything finishes on the survivors; a new leader ticks.
    _wait(
        lambda: rows("SELECT count(*) FROM jobs WHERE status = 'done'")[0][0] == EVENTS,
        45,
        f"every job to be done {stages}",
        interval=0.2,
    )
    _wait(
        lambda: rows("SELECT count(*) FROM replica_ticks WHERE pid <> %s AND at > %s", leader_pid, killed_at)[
            0
        ][0],
        SCHEDULER_LEASE_SECONDS * 4,
        "a new scheduler leader",
    )

    stage("all done")
    print(stages)

    # Exactly once: one effect per push, none lost, none doubled.
    effects = rows("SELECT delivery, pid FROM replica_effects")
    assert len(effects) == EVENTS
    assert len({delivery for delivery, _ in effects}) == EVENTS
    assert rows("SELECT status, count(*) FROM jobs GROUP BY status") == [("done", EVENTS)]
    # The interrupted jobs were retaken by a survivor after their lease ran out.
    retaken = {d for d, pid in effects if d in interrupted and pid != leader_pid}
    assert retaken == interrupted
    # No job completed twice, and a job never ran on two processes at once.
    finished = rows(
        "SELECT delivery, count(*) FROM replica_runs WHERE finished_at IS NOT NULL GROUP BY delivery"
    )
    doubled = {d for d, n in finished if n > 1}
    assert doubled <= interrupted | {
        d for (d,) in rows("SELECT delivery FROM replica_runs WHERE pid = %s", leader_pid)
    }
    overlapping = rows(
        """SELECT a.delivery FROM replica_runs a JOIN replica_runs b
           ON a.delivery = b.delivery AND a.id < b.id
           WHERE b.started_at < coalesce(a.finished_at, %s)""",
        killed_at,
    )
    assert overlapping == []
    # Work was shared: every process ran jobs.
    assert {pid for (pid,) in rows("SELECT DISTINCT pid FROM replica_runs")} == pids

    # The scheduler: ticks come from one process at a time, and the leadership moved once,
    # within one lease period (plus a tick) of the old leader's last renewal.
    ticks = rows("SELECT pid, at FROM replica_ticks ORDER BY at")
    segments: list[int] = []
    for pid, _ in ticks:
        if not segments or segments[-1] != pid:
            segments.append(pid)
    assert segments[0] == leader_pid and len(segments) == 2, segments
    last_old = max(at for pid, at in ticks if pid == leader_pid)
    first_new = min(at for pid, at in ticks if pid != leader_pid)
    handover = (first_new - last_old).total_seconds()
    assert handover <= SCHEDULER_LEASE_SECONDS + SCHEDULER_TICK_SECONDS + 1.0, handover
    print(
        f"\nburst of {EVENTS} webhooks in {burst_seconds:.2f} s; killed {leader} with "
        f"{len(interrupted)} jobs in flight; scheduler handover {handover:.2f} s"
    )


def test_real_registry_pushes_across_replicas_open_each_update_pull_request_once(
    database_url: str, tmp_path: Path
) -> None:
    """The issue-4 handlers on the GitHub stand-in: pushes of several versions, each delivered
    twice to each server, and a server killed mid-burst; every branch gets one pull request,
    and each deployment ends with one open pull request, for its newest version."""
    require(shutil.which("git") is not None, "the git executable")
    with GitHubStandIn(tmp_path / "github") as standin:
        standin.add_token(GITHUB_TOKEN, login="gitops-bot")
        standin.create_repo(REPO, dict(FILES))
        cluster = Cluster(
            database_url,
            tmp_path,
            handlers="handlers:default_router",
            dry_run="false",
            github_api_url=standin.base_url,
            github_token=GITHUB_TOKEN,
            github_seconds_between_writes="0",
            gitops_repos=REPO,
            git_url_template=f"{(tmp_path / 'github' / 'repos').as_uri()}/{{repo}}.git",
        )
        try:
            assert cluster.run("migrate").returncode == 0
            cluster.serve("serve-a")
            cluster.serve("serve-b")
            cluster.start("worker", "worker")
            cluster.wait_ready("serve-a")
            cluster.wait_ready("serve-b")
            pushes = [
                distribution_push("serving/chat-llm", f"1.{minor}.0", f"sha256:{minor:064x}")
                for minor in range(3, 9)
            ] + [
                distribution_push("serving/embedder", f"0.{minor}.0", f"sha256:{minor + 100:064x}")
                for minor in range(10, 16)
            ]
            headers = {
                "Content-Type": "application/vnd.docker.distribution.events.v1+json",
                "Authorization": f"Bearer {TOKEN}",
            }
            sends = [
                (server, body) for body in pushes for server in ("serve-a", "serve-b", "serve-a", "serve-b")
            ]

            def send(item: tuple[str, dict]) -> int:  # type: ignore[type-arg]
                server, body = item
                return cluster.http.post(
                    cluster.url(server) + "/webhooks/registry", json=body, headers=headers
                ).status_code

            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(send, sends))
            assert set(statuses) <= {200, 202} and statuses.count(202) == len(pushes), statuses

            # SIGKILL one server while jobs are running.
            db = psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True)
            _wait(
                lambda: db.execute("SELECT count(*) FROM jobs WHERE status = 'running'").fetchone()[0],
                30,
                "a running job",
                interval=0.01,
            )
            os.kill(cluster.pid("serve-a"), signal.SIGKILL)
            cluster.processes["serve-a"].wait(timeout=10)

            def settled() -> bool:
                counts = dict(db.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall())
                return set(counts) <= {"done", "dead"} and counts.get("done", 0) > 0

            _wait(settled, 50, "every job to finish", interval=0.2)
            dead = db.execute("SELECT handler, last_error FROM jobs WHERE status = 'dead'").fetchall()
            assert dead == [], dead
        finally:
            cluster.stop()

        pulls = standin.pulls(REPO)
        heads = [p.head_ref for p in pulls]
        assert len(heads) == len(set(heads)), sorted(heads)  # no duplicate pull requests
        # Each deployment ends with its newest version open (or merged: the embedder automerges),
        # and no older pull request left open. An older one may have merged (the embedder automerges)
        # only if that happened before the newest was opened: its push can be handled before the
        # later pushes of the burst have even arrived.
        states = sorted((p.head_ref, p.state, p.merged, p.merged_at, p.created_at) for p in pulls)
        for newest in ("gitops-bot/chat-llm-staging/1.8.0", "gitops-bot/embedder/0.15.0"):
            prefix = newest.rsplit("/", 1)[0] + "/"
            (last,) = [p for p in pulls if p.head_ref == newest]
            assert last.state == "open" or last.merged, states
            others = [p for p in pulls if p.head_ref.startswith(prefix) and p.head_ref != newest]
            assert all(p.state == "closed" for p in others), states
            merged_before = [p for p in others if p.merged]
            assert all(p.merged_at and p.merged_at <= last.created_at for p in merged_before), states
