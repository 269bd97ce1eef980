"""An event that leads to nothing is stored as ``ignored`` with a reason a person understands.

The sample payloads of ``tests/payloads/`` (those the README's ``send-event`` lines send) go
through the real intake, signed as ``gitops-bot send-event`` signs them, the real handlers run in
a worker, and ``/api/events`` and ``/api/actions`` say what came of each. The GitOps repository
``acme/gitops`` lives on a FakeForge; SQLite and PostgreSQL both.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.cli import build_signed_request
from bot.services import Services, build_services
from bot.settings import Settings
from bot.worker import WorkerPool
from handlers import default_router
from tests.integration.intake.conftest import SECRETS
from tests.support.fake_forge import FakeForge, install_fake_forge

ROOT = Path(__file__).resolve().parents[3]
PAYLOADS = ROOT / "tests/payloads"
EXAMPLE = ROOT / "deploy/examples/gitops-repo"
EXAMPLE_CONFIG = (EXAMPLE / ".gitops-bot.yaml").read_text()
EXAMPLE_FILES = {
    str(path.relative_to(EXAMPLE)): path.read_text() for path in EXAMPLE.rglob("*") if path.is_file()
}
NO_REPOS = "no GitOps repository is configured: set GITOPS_BOT_GITOPS_REPOS"


@dataclass
class Bot:
    services: Services
    forge: FakeForge
    client: TestClient

    def send(self, relative: str | None = None, *, source: str, body: bytes | None = None) -> dict[str, Any]:
        """What `gitops-bot send-event FILE --source SOURCE` does; the stored event's id and status."""
        raw = body if body is not None else (PAYLOADS / relative).read_bytes()  # type: ignore[operator]
        raw = raw.strip() if source == "slack" else raw
        path, headers = build_signed_request(self.services.settings, source, raw)
        response = self.client.post(path, content=raw, headers=headers)
        assert response.status_code in (200, 202), response.text
        return response.json()

    def run_jobs(self) -> list[str]:
        pool = WorkerPool(self.services, default_router(), concurrency=1, name="test")
        outcomes = []
        for _ in range(50):
            job = self.services.queue.claim("test/0")
            if job is None:
                return outcomes
            outcomes.append(asyncio.run(pool.run_job(job)))
        raise AssertionError("more than 50 jobs")

    def events(self) -> dict[str, dict[str, Any]]:
        """The stored events by kind (``image.pushed``), newest of each kind."""
        items = self.client.get("/api/events", params={"limit": 500}).json()
        items = items["events"] if isinstance(items, dict) else items
        return {item["kind"]: item for item in reversed(items)}

    def actions(self) -> list[dict[str, Any]]:
        items = self.client.get("/api/actions", params={"limit": 500}).json()
        return items["actions"] if isinstance(items, dict) else items


MakeBot = Callable[..., Bot]


@pytest.fixture
def make_bot(database_url: str, tmp_path: Path) -> Iterator[MakeBot]:
    opened: list[TestClient] = []

    def make(*, config: str | None = None, **settings: Any) -> Bot:
        values: dict[str, Any] = {
            **SECRETS,
            "database_url": database_url,
            "data_dir": tmp_path / "data",
            "github_seconds_between_writes": 0.0,
            **settings,
        }
        services = build_services(Settings(_env_file=None, **values))
        forge = install_fake_forge(services)
        forge.add_repo("acme/gitops", {".gitops-bot.yaml": config} if config is not None else {})
        client = TestClient(create_app(services=services, router=default_router()))
        client.__enter__()
        opened.append(client)
        return Bot(services, forge, client)

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def registry_push(**target: Any) -> bytes:
    """The sample distribution push with ``target`` fields changed (None removes one)."""
    payload = json.loads((PAYLOADS / "registry/distribution.push.json").read_text())
    event = copy.deepcopy(payload["events"][0])
    for key, value in target.items():
        if value is None:
            event["target"].pop(key, None)
        else:
            event["target"][key] = value
    event["id"] = f"push-{sorted(target.items())}"
    return json.dumps({"events": [event]}).encode()


def test_the_readme_samples_say_why_nothing_happened(make_bot: MakeBot) -> None:
    """`make run` as it is out of the box: dry run, no GitOps repository configured."""
    bot = make_bot()
    bot.send("registry/distribution.push.json", source="registry")
    bot.send("mlflow/model_version.created.json", source="mlflow")
    bot.send("alertmanager/firing.json", source="alertmanager")
    bot.send("slack/command.txt", source="slack")
    assert set(bot.run_jobs()) == {"done"}

    events = bot.events()
    assert events["image.pushed"]["status"] == "ignored"
    assert events["image.pushed"]["reason"] == NO_REPOS
    assert events["model_version.created"]["status"] == "ignored"
    assert events["model_version.created"]["reason"] == NO_REPOS
    assert events["alert.firing"]["status"] == "ignored"
    assert events["alert.firing"]["reason"] == (
        "no canary analysis is running for the alert's deployment (chat-llm-staging)"
    )
    # The Slack command was answered (a refusal): the event is done, and the refusal says why.
    assert events["command.gitops"]["status"] == "done"
    (refusal,) = [a for a in bot.actions() if a["kind"] == "slack.deploy"]
    assert refusal["outcome"] == "refused"
    assert NO_REPOS in refusal["summary"] and NO_REPOS in refusal["details"]["reason"]


def test_a_push_no_trigger_names_is_ignored_naming_the_repository(make_bot: MakeBot) -> None:
    bot = make_bot(config=EXAMPLE_CONFIG, gitops_repos=["acme/gitops"], dry_run=True)
    bot.send(source="registry", body=registry_push(repository="serving/other"))
    bot.run_jobs()
    event = bot.events()["image.pushed"]
    assert event["status"] == "ignored"
    assert event["reason"] == "no deployment's trigger matches serving/other (in acme/gitops)"


def test_a_push_by_digest_alone_names_no_version(make_bot: MakeBot) -> None:
    bot = make_bot(config=EXAMPLE_CONFIG, gitops_repos=["acme/gitops"], dry_run=True)
    bot.send(source="registry", body=registry_push(tag=None))
    bot.run_jobs()
    event = bot.events()["image.pushed"]
    assert event["status"] == "ignored"
    assert event["reason"].startswith(
        "a push by digest names no version (registry.example.com/serving/chat-llm"
    )


def test_a_repository_without_config_is_the_reason(make_bot: MakeBot) -> None:
    bot = make_bot(gitops_repos=["acme/gitops"], dry_run=True)
    bot.send("registry/distribution.push.json", source="registry")
    bot.run_jobs()
    event = bot.events()["image.pushed"]
    assert event["status"] == "ignored"
    assert event["reason"] == "acme/gitops has no .gitops-bot.yaml on its default branch (main)"
    (unusable,) = [a for a in bot.actions() if a["kind"] == "config.unusable"]
    assert unusable["outcome"] == "refused" and unusable["details"]["reason"] == event["reason"]


def test_an_older_version_is_ignored_with_each_deployments_reason(make_bot: MakeBot) -> None:
    """The example repository runs 1.4.2 in staging and 1.3.0 in production: an older version is
    refused for both, and the event says so for each; a newer version is proposed."""
    bot = make_bot(config=EXAMPLE_CONFIG, gitops_repos=["acme/gitops"], dry_run=True)
    bot.forge.add_files("acme/gitops", EXAMPLE_FILES)
    bot.send(source="registry", body=registry_push(tag="1.2.0"))
    bot.run_jobs()
    event = bot.events()["image.pushed"]
    assert event["status"] == "ignored"
    assert event["reason"] == (
        "Refused to deploy 1.2.0 to chat-llm-staging: 1.2.0 is older than the current 1.4.2; the bot never"
        " moves backwards | Refused to deploy 1.2.0 to chat-llm-prod: 1.2.0 is older than the current"
        " 1.3.0; the bot never moves backwards"
    )

    bot.send(source="registry", body=registry_push(tag="1.5.0"))
    bot.run_jobs()
    event = bot.events()["image.pushed"]
    assert (event["status"], event["reason"]) == ("done", None)


def test_a_comment_that_is_no_command_is_ignored_once_for_both_jobs(make_bot: MakeBot) -> None:
    bot = make_bot(config=EXAMPLE_CONFIG, dry_run=True)
    payload = json.loads((PAYLOADS / "github/issue_comment.created.json").read_text())
    payload["comment"]["body"] = "LGTM, thanks"
    bot.send(source="github", body=json.dumps(payload).encode())
    assert bot.run_jobs() == ["done", "done"]
    event = bot.events()["issue_comment.created"]
    assert event["status"] == "ignored"
    assert event["reason"] == "the comment is not a /gitops or atlantis command (not addressed to the bot)"


def test_a_command_comment_is_done(make_bot: MakeBot) -> None:
    """``/gitops plan`` (the sample): the Terraform job acts (a dry-run record), so the deployments
    job's "not a deployment command" does not make the event ignored."""
    bot = make_bot(config=EXAMPLE_CONFIG, dry_run=True)
    bot.send("github/issue_comment.created.json", source="github")
    bot.run_jobs()
    event = bot.events()["issue_comment.created"]
    assert (event["status"], event["reason"]) == ("done", None)


def test_a_pull_request_closed_unmerged_says_why_for_every_job(make_bot: MakeBot) -> None:
    bot = make_bot(config=EXAMPLE_CONFIG, dry_run=True)
    payload = json.loads((PAYLOADS / "github/pull_request.opened.json").read_text())
    payload["action"] = "closed"
    payload["pull_request"]["head"]["ref"] = "feature/tidy"
    bot.send(source="github", body=json.dumps(payload).encode())
    bot.run_jobs()
    event = bot.events()["pull_request.closed"]
    assert event["status"] == "ignored"
    reasons = event["reason"].split(" | ")
    assert "#42 was closed without being merged" in reasons
    assert "#42 is not one of the bot's update pull requests" in reasons
    assert "#42 was closed holding no Terraform locks" in reasons
