"""A local pull request's page in a real browser: the bot's update pull request on the local forge
(the example repository, a signed registry push), approved, commented and merged from the page;
the merge is recorded as a deployment, as a merge on GitHub would be."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.adapters.forge.local.seed import with_example_repository
from bot.app import create_app
from bot.routing import load_router
from bot.services import build_services
from bot.settings import Settings
from bot.worker import WorkerPool
from tests.browser.test_console_analysis import off_thread
from tests.integration.localforge.test_local_loop import PUSH, LocalBot
from tests.support.botenv import REGISTRY_TOKEN, served
from tests.support.browser import screenshot


@pytest.fixture
def bot(tmp_path: Path, sqlite_database_url: str) -> Iterator[LocalBot]:
    settings = Settings(
        _env_file=None, database_url=sqlite_database_url, data_dir=tmp_path / "data",
        local_repos_dir=tmp_path / "repos", registry_token=REGISTRY_TOKEN, prometheus_url="http://127.0.0.1:9",
    )  # fmt: skip
    seeded = with_example_repository(settings)
    assert seeded is not None
    router = load_router(settings.handlers)
    services = build_services(seeded.settings)
    app = create_app(seeded.settings, router=router, services=services)
    with TestClient(app) as client, served(app) as url:
        yield LocalBot(
            seeded.settings, client, url, WorkerPool(services, router, concurrency=1, name="local")
        )


def push(bot: LocalBot) -> None:
    headers = {"Authorization": f"Bearer {REGISTRY_TOKEN}", "Content-Type": "application/json"}
    assert (
        httpx.post(f"{bot.url}/webhooks/registry", content=PUSH.read_bytes(), headers=headers).status_code
        == 202
    )
    bot.run_jobs()


def test_approve_comment_and_merge_from_the_page(bot: LocalBot, page: Any) -> None:
    from playwright.sync_api import expect

    page.on("dialog", lambda dialog: dialog.accept())
    off_thread(push, bot)
    page.goto(f"{bot.url}/pulls/local/gitops/1")
    expect(page.locator("h1")).to_contain_text("local/gitops#1: chat-llm-staging: deploy 1.5.0 (from 1.4.2)")
    expect(page.locator("pre.run-output")).to_contain_text('+  tag: "1.5.0"')
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash-ok")).to_have_text("Approved.")
    page.get_by_label("Comment").fill("<script>window.__xss=1</script> looks good")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator("article.comment").last).to_contain_text("<script>window.__xss=1</script> looks good")
    screenshot(page, "console-pull-open")
    page.get_by_role("button", name="Merge").click()
    expect(page.locator(".flash-ok")).to_contain_text("Merged")
    expect(page.locator("dl.facts")).to_contain_text("merged by console")
    off_thread(bot.run_jobs)
    deployments = bot.client.get("/api/deployments").json()
    assert [(d["name"], d["version"], d["pr_url"]) for d in deployments] == [
        ("chat-llm-staging", "1.5.0", "http://127.0.0.1:8080/pulls/local/gitops/1")
    ]
    screenshot(page, "console-pull-merged")
    assert page.evaluate("window.__xss") is None
