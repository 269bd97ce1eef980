"""A saved plan survives the replica that made it: two `gitops-bot serve` processes on one
database, each with its own data directory, against the GitHub stand-in with real Terraform.

Replica A autoplans a pull request and is killed with SIGKILL (its data directory is removed
too); replica B, started afterwards, applies the plan through ``/gitops apply`` from the plan
file stored in the database. On PostgreSQL (several replicas) and on SQLite, where the two
processes one after the other are a single bot restarted on a new disk with its database kept.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, text

from tests.integration.deploy.test_replicas import Cluster
from tests.integration.terraform.test_pull_request_flow import BIGGER, FILES, REPO
from tests.support.github_standin import GitHubStandIn
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim

GITHUB_TOKEN = "ghp_terraform_replica_token"
WEBHOOK_SECRET = "terraform-replica-webhook-secret"
T = TypeVar("T")


def _wait(predicate: Callable[[], T], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _replica(database_url: str, workdir: Path, standin: GitHubStandIn) -> Cluster:
    workdir.mkdir(parents=True)
    return Cluster(
        database_url,
        workdir,
        handlers="handlers:default_router",
        dry_run="false",
        github_api_url=standin.base_url,
        github_token=GITHUB_TOKEN,
        github_webhook_secret=WEBHOOK_SECRET,
        github_seconds_between_writes="0",
        git_url_template=f"{standin.repo_path(REPO).parent.parent.as_uri()}/{{repo}}.git",
        job_lease_seconds="30",
    )


def test_a_plan_made_by_a_killed_replica_is_applied_by_another(
    tmp_path: Path, database_url: str, terraform_shim: TerraformShim
) -> None:
    require(shutil.which("git") is not None, "the git executable")
    # The database lives outside both replicas' directories, as it would on its own server or volume.
    with GitHubStandIn(tmp_path / "github") as standin:
        standin.add_token(GITHUB_TOKEN, login="gitops-bot")
        standin.create_repo(REPO, dict(FILES))
        for login in ("dev", "alice"):
            standin.set_permission(REPO, login, "write")
        engine = create_engine(database_url)

        def query(sql: str, **params: object) -> list[tuple[object, ...]]:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql), params)]

        def settled() -> bool:
            standin.flush()
            counts = dict(query("SELECT status, count(*) FROM jobs GROUP BY status"))
            return bool(counts) and set(counts) <= {"done", "dead"}

        def bodies(number: int) -> list[str]:
            return [comment.body for comment in standin.comments(REPO, number)]

        a = _replica(database_url, tmp_path / "replica-a", standin)
        b = _replica(database_url, tmp_path / "replica-b", standin)
        try:
            assert a.run("migrate").returncode == 0
            a.serve("a")
            a.wait_ready("a")
            standin.set_webhook(a.url("a") + "/webhooks/github", WEBHOOK_SECRET)

            # Replica A autoplans the pull request.
            standin.commit(REPO, "more-gpus", {"terraform/staging/main.tf": BIGGER}, "more GPUs")
            number = standin.open_pull_request(REPO, head="more-gpus", title="More GPUs")
            (plan,) = _wait(lambda: [c for c in bodies(number) if "Ran Plan" in c], 120, "A's plan")
            assert "Ran Plan for project `staging`" in plan and "Plan: 1 to add" in plan, a.log("a")
            _wait(settled, 60, "A's jobs to finish")
            ((size, stored),) = query(
                "SELECT planfile_size, length(planfile_data) FROM plans WHERE pr_number = :number",
                number=number,
            )
            assert size == stored and isinstance(size, int) and size > 0

            # A dies without a chance to clean up, and its disk goes with it.
            os.kill(a.pid("a"), signal.SIGKILL)
            a.processes["a"].wait(timeout=10)
            shutil.rmtree(a.workdir / "data")

            # Replica B, started afterwards with its own data directory, applies A's plan.
            b.serve("b")
            b.wait_ready("b")
            standin.set_webhook(b.url("b") + "/webhooks/github", WEBHOOK_SECRET)
            standin.add_review(REPO, number, "alice", "APPROVED")
            standin.post_comment_as("dev", REPO, number, "/gitops apply")
            (applied,) = _wait(lambda: [c for c in bodies(number) if "Ran Apply" in c], 120, "B's apply")
            assert "Ran Apply for project `staging`" in applied, b.log("b")
            assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in applied, applied
            _wait(settled, 60, "B's jobs to finish")
            assert query("SELECT count(*) FROM jobs WHERE status = 'dead'") == [(0,)]
            # The plan is spent; nothing of it was ever kept on either replica's disk.
            assert query(
                "SELECT status, planfile_sha256, planfile_data FROM plans WHERE pr_number = :number",
                number=number,
            ) == [("applied", None, None)]
            assert not (b.workdir / "data" / "plans").exists()
            head = standin.pull(REPO, number).head_sha
            states = {s["context"]: s["state"] for s in standin.statuses(REPO, head)}
            assert states["gitops-bot/apply"] == "success"
        finally:
            standin.set_webhook(None)
            a.stop()
            b.stop()
            engine.dispose()
