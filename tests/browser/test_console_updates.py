"""``/updates`` in a real browser, on versions the bot really handled on the GitHub stand-in: an open
pull request that superseded an older one, a refused version with its reason, and "Propose" for
another deployment opening a real pull request; a hostile version stays text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_console_analysis import off_thread
from tests.integration.deployments.test_canary_flow import FILES, REPO, deploy
from tests.support.botenv import BotEnv, bot_env, distribution_push, served
from tests.support.browser import screenshot

HOSTILE = "<img src=x onerror=window.__xss=1>"


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str) -> Iterator[BotEnv]:
    with bot_env(tmp_path, sqlite_database_url, repo=REPO, files=FILES) as built:
        built.standin.set_permission(REPO, "alice", "write")
        built.standin.set_permission(REPO, "console", "maintain")  # the console's login
        yield built


def history(env: BotEnv) -> None:
    deploy(env, "1.1.0")
    for version, digest in (("1.2.0", "a"), ("1.3.0", "b"), ("0.9.0", "c")):
        assert env.post_registry(distribution_push("serving/chat", version, "sha256:" + digest * 64)) == 202
        env.run_jobs()


def test_see_every_state_and_propose_a_version(env: BotEnv, page: Any) -> None:
    from playwright.sync_api import expect

    page.on("dialog", lambda dialog: dialog.accept())
    off_thread(history, env)
    opened = next(p for p in env.standin.pulls(REPO) if p.head_ref == "gitops-bot/chat/1.3.0")
    with served(env.client.app) as base:
        page.goto(f"{base}/updates")
        expect(page.locator("h1")).to_have_text("Updates")
        chat = page.locator('section[data-deployment="chat"]')
        expect(chat).to_contain_text("Runs 1.1.0")
        expect(chat.get_by_role("link", name=f"#{opened.number}")).to_have_attribute(
            "href", f"{env.standin.html_base}/{REPO}/pull/{opened.number}"
        )
        expect(chat.locator(".state-refused")).to_have_text("backwards")
        expect(chat).to_contain_text("0.9.0 is older than the current 1.1.0")
        chat.locator("details summary").click()
        expect(chat.locator("details")).to_contain_text("1.2.0 by 1.3.0")
        screenshot(page, "console-updates")

        prod = page.locator('section[data-deployment="chat-prod"]')
        prod.get_by_label("Version to propose for chat-prod").fill(HOSTILE)
        prod.get_by_role("button", name="Propose a version for chat-prod").click()
        expect(page.locator(".flash-error")).to_contain_text("is not a version")
        prod = page.locator('section[data-deployment="chat-prod"]')
        prod.get_by_label("Version to propose for chat-prod").fill("1.1.0")
        prod.get_by_role("button", name="Propose a version for chat-prod").click()
        expect(page.locator(".flash-ok")).to_contain_text("Proposed 1.1.0 for chat-prod")
        proposed = next(p for p in env.standin.pulls(REPO) if p.head_ref == "gitops-bot/chat-prod/1.1.0")
        expect(page.locator('section[data-deployment="chat-prod"]')).to_contain_text(f"#{proposed.number}")
        screenshot(page, "console-updates-proposed")
        assert page.evaluate("window.__xss") is None
