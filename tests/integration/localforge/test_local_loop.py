"""The local forge, end to end: the example repository created as ``serve`` creates it, a signed
registry push opens update pull requests in it (real git), ``gitops-bot pr`` lists, shows, diffs,
merges (the deployment is recorded and its canary starts) and comments ``/gitops plan`` (a real
Terraform plan, answered on the pull request), approves and closes, through the served bot."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.adapters.forge.local.seed import EXAMPLE_REPO, with_example_repository
from bot.app import create_app
from bot.cli import main
from bot.routing import load_router
from bot.services import build_services
from bot.settings import Settings
from bot.worker import WorkerPool
from tests.support.botenv import REGISTRY_TOKEN, served
from tests.support.markdown import swallowed_lines
from tests.support.terraform_shim import TerraformShim, terraform_shim

__all__ = ["terraform_shim"]  # the fixture, used by name

PUSH = Path(__file__).resolve().parents[2] / "payloads" / "registry" / "chat-llm-1.5.0.json"


class LocalBot:
    def __init__(self, settings: Settings, client: TestClient, url: str, pool: WorkerPool) -> None:
        self.settings, self.client, self.url, self.pool = settings, client, url, pool

    def run_jobs(self) -> list[tuple[str, str]]:
        ran = []
        services = self.client.app.state.services  # type: ignore[attr-defined]
        for _ in range(100):
            job = services.queue.claim("local-test/0")
            if job is None:
                return ran
            ran.append((job.handler, asyncio.run(self.pool.run_job(job))))
        raise AssertionError(f"a loop? {ran[-5:]}")

    def pr(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        """The command's exit code, output and errors (the served bot's own log lines left out:
        they share this process's stdout)."""
        code = main(["pr", *args, "--url", self.url])
        out = capsys.readouterr()
        return code, _without_logs(out.out), _without_logs(out.err)


def _without_logs(text: str) -> str:
    return "".join(
        line for line in text.splitlines(keepends=True) if not line.startswith("20") or "[" not in line[:40]
    )


@pytest.fixture
def bot(tmp_path: Path, database_url: str, terraform_shim: TerraformShim) -> Iterator[LocalBot]:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=tmp_path / "data",
        local_repos_dir=tmp_path / "repos",
        registry_token=REGISTRY_TOKEN,
        prometheus_url="http://127.0.0.1:9",  # nothing listens: the canary says so
        terraform_executor="local",
    )
    seeded = with_example_repository(settings)
    assert seeded is not None and seeded.created
    assert with_example_repository(seeded.settings) is None  # configured now: nothing more to do
    router = load_router(settings.handlers)
    services = build_services(seeded.settings)
    app = create_app(seeded.settings, router=router, services=services)
    with TestClient(app) as client, served(app) as url:
        yield LocalBot(
            seeded.settings, client, url, WorkerPool(services, router, concurrency=1, name="local")
        )


def pulls(bot: LocalBot, state: str = "all") -> dict[int, dict[str, Any]]:
    answer = bot.client.get(f"/api/local/repos/{EXAMPLE_REPO}/pulls", params={"state": state})
    assert answer.status_code == 200, answer.text
    return {pull["number"]: pull for pull in answer.json()}


def test_push_review_merge_and_plan_on_the_local_forge(
    bot: LocalBot, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = httpx.post(
        f"{bot.url}/webhooks/registry", content=PUSH.read_bytes(),
        headers={"Authorization": f"Bearer {REGISTRY_TOKEN}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert sent.status_code == 202, sent.text
    bot.run_jobs()
    opened = pulls(bot)
    assert [opened[n]["title"] for n in (1, 2)] == [
        "chat-llm-staging: deploy 1.5.0 (from 1.4.2)",
        "chat-llm-prod: deploy 1.5.0 (from 1.3.0)",
    ]
    assert opened[1]["html_url"].endswith(f"/pulls/{EXAMPLE_REPO}/1") and opened[1]["mergeable"] is True

    code, out, _ = bot.pr(capsys, "list")
    assert code == 0 and "chat-llm-staging: deploy 1.5.0" in out and "gitops-bot/chat-llm-prod/1.5.0" in out
    code, out, _ = bot.pr(capsys, "diff", "1")
    assert code == 0 and '-  tag: "1.4.2"\n+  tag: "1.5.0"' in out
    code, out, _ = bot.pr(capsys, "show", "1")
    assert (
        code == 0 and out.startswith("#1 chat-llm-staging: deploy 1.5.0") and "**Why:** registry push" in out
    )

    code, out, _ = bot.pr(capsys, "approve", "1")
    assert code == 0 and out == "Approved #1 as console.\n"
    code, out, _ = bot.pr(capsys, "merge", "1")
    assert code == 0 and out.startswith("Merged #1 (")
    bot.run_jobs()
    (deployment,) = bot.client.get("/api/deployments").json()
    assert (deployment["name"], deployment["version"], deployment["status"]) == (
        "chat-llm-staging",
        "1.5.0",
        "analysing",
    )
    assert deployment["pr_number"] == 1
    staging = bot.client.get(f"/api/local/repos/{EXAMPLE_REPO}/pulls/1").json()
    assert (
        staging["state"] == "merged"
        and staging["merged_by"] == "console"
        and staging["reviews"] == [{"author": "console", "state": "APPROVED"}]
    )
    assert "apps/chat-llm/values-staging.yaml" in [c for c in _tree(bot)]

    code, out, _ = bot.pr(capsys, "comment", "2", "/gitops plan")
    assert code == 0 and out.startswith("Commented on #2: ")
    bot.run_jobs()
    comments = bot.client.get(f"/api/local/repos/{EXAMPLE_REPO}/pulls/2").json()["comments"]
    assert [c["author"] for c in comments][:1] == ["console"]
    answer = "\n".join(c["body"] for c in comments if c["author"] == "gitops-bot")
    assert "serving-prod" in answer and "Plan:" in answer, answer

    code, out, _ = bot.pr(capsys, "close", "2")
    assert (code, out) == (0, "Closed #2.\n")
    bot.run_jobs()
    assert pulls(bot, "open") == {}

    # Every body and comment the bot wrote reads on GitHub as written: no sentence swallowed by a table.
    for number in (1, 2):
        pull = bot.client.get(f"/api/local/repos/{EXAMPLE_REPO}/pulls/{number}").json()
        for text in [pull["body"], *(c["body"] for c in pull["comments"] if c["author"] == "gitops-bot")]:
            assert swallowed_lines(text) == [], text


def _tree(bot: LocalBot) -> list[str]:
    services = bot.client.app.state.services  # type: ignore[attr-defined]
    return [
        f
        for f in ("apps/chat-llm/values-staging.yaml",)
        if services.local().read_file(EXAMPLE_REPO, f, "main")
    ]


def test_mistakes_are_one_line(bot: LocalBot, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = bot.pr(capsys, "show", "7")
    assert code == 1 and err.strip() == "gitops-bot pr: 404: local/gitops has no pull request #7"
    code, _, err = bot.pr(capsys, "merge")
    assert code == 1 and "needs the pull request's number" in err
    code, _, err = bot.pr(capsys, "comment", "1")
    assert code == 1 and "needs the comment's text" in err
    code = main(["pr", "list", "--url", "http://127.0.0.1:9"])
    err = _without_logs(capsys.readouterr().err)
    assert code == 1 and err.startswith("gitops-bot pr: cannot reach the bot at http://127.0.0.1:9")
    assert "Traceback" not in err
    code, _, err = bot.pr(capsys, "list", "--repo", "local/nothing")
    assert code == 1 and "no repository local/nothing" in err
    assert json.loads(bot.client.get("/api/local/repos").text) == [EXAMPLE_REPO]
