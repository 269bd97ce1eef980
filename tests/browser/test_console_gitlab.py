"""The console for a GitLab project in a real browser: a project of a nested group, deployed and rolled
back by a note on the GitLab stand-in over real git. The overview links to the deployment's page
(``/deployments/gitlab:group/sub/project/name``), whose history names the merge requests (``!N``
links to ``/-/merge_requests/N``), and "Lift" works there as on GitHub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_console_analysis import off_thread
from tests.integration.deployments.test_canary_flow import FILES
from tests.support.botenv import BotEnv, bot_env, distribution_push, served
from tests.support.browser import screenshot

PROJECT = "acme/platform/gitops"  # a subgroup: more than owner/name


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str) -> Iterator[BotEnv]:
    with bot_env(tmp_path, sqlite_database_url, repo=PROJECT, files=FILES, forge="gitlab") as built:
        built.standin.set_permission(PROJECT, "alice", "write")
        yield built


def deployed_and_rolled_back(env: BotEnv) -> dict[str, int]:
    numbers = {}
    for version in ("1.1.0", "1.2.0"):
        assert env.post_registry(distribution_push("serving/chat", version, "sha256:" + "c" * 64)) == 202
        env.run_jobs()
        pull = next(p for p in env.standin.pulls(PROJECT) if p.head_ref == f"gitops-bot/chat/{version}")
        env.standin.merge_pull_request(PROJECT, pull.number, user="alice")
        env.run_jobs()
        numbers[version] = pull.number
    env.standin.post_comment_as("alice", PROJECT, numbers["1.2.0"], "/gitops rollback")
    env.run_jobs()
    return numbers


def test_a_gitlab_project_in_the_console(env: BotEnv, page: Any) -> None:
    from playwright.sync_api import expect

    page.on("dialog", lambda dialog: dialog.accept())
    numbers = off_thread(deployed_and_rolled_back, env)
    web = f"{env.standin.base_url}/{PROJECT}/-/merge_requests"
    with served(env.client.app) as base:
        page.goto(f"{base}/")
        chat = page.locator('tr[data-deployment="chat"]')
        expect(chat.locator("td.version")).to_have_text("1.1.0")
        expect(chat.locator(".quarantine-note")).to_have_text("quarantined: 1.2.0")
        expect(page.locator("main")).to_contain_text(f"gitlab:{PROJECT}")
        expect(chat.locator("td.change")).to_contain_text("revert !")  # a merge request, as GitLab names it
        screenshot(page, "console-overview-gitlab")

        chat.get_by_role("link", name="chat", exact=True).click()
        expect(page).to_have_url(f"{base}/deployments/gitlab%3Aacme/platform/gitops/chat")
        expect(page.locator("h1")).to_have_text("chat")
        history = page.locator("table.history tbody tr")
        expect(history.nth(0).locator(".kind")).to_have_text("revert")
        expect(history.nth(1)).to_contain_text("1.1.0 → 1.2.0")
        expect(history.nth(1).locator("td.title a")).to_have_attribute("href", f"{web}/{numbers['1.2.0']}")
        expect(history.nth(2).locator("td.title a")).to_have_attribute("href", f"{web}/{numbers['1.1.0']}")
        # GitLab's own name for a merge request: "#N" would be issue N there.
        expect(history.nth(1).locator("td.title a")).to_have_text(f"!{numbers['1.2.0']}")
        screenshot(page, "console-deployment-gitlab")

        viewer = page.locator("header .viewer").inner_text().split("·")[0].strip()
        env.standin.set_permission(PROJECT, viewer, "maintain")
        page.get_by_role("button", name="Lift the quarantine of 1.2.0").click()
        expect(page.locator(".flash")).to_contain_text("Lifted the quarantine of 1.2.0")
        expect(page).to_have_url(
            f"{base}/deployments/gitlab%3Aacme/platform/gitops/chat?done=lifted&version=1.2.0"
        )
