"""The overview and a deployment's page in a real browser, on real data: versions deployed end to end
on the GitHub stand-in with real git (registry pushes, merges, a rollback by comment that
quarantines its version, a promotion, a person's pull request with hostile text in its title and
in the version it writes). From the overview to a deployment, "Lift" on its quarantined version,
and the hostile text stays text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_console_analysis import off_thread
from tests.integration.deployments.test_canary_flow import FILES, REPO, deploy
from tests.support.botenv import BotEnv, bot_env, distribution_push, served
from tests.support.browser import screenshot

XSS_TITLE = '<img src=x onerror="window.__xss=1">pin prod'
XSS_VERSION = "<script>window.__xss=2</script>"


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str) -> Iterator[BotEnv]:
    # Nothing is measured (no analysis step runs): no Prometheus is needed.
    with bot_env(tmp_path, sqlite_database_url, repo=REPO, files=FILES) as built:
        built.standin.set_permission(REPO, "alice", "write")
        yield built


def history_of_a_few_days(env: BotEnv) -> dict[str, int]:
    """1.1.0 deployed and rolled back by comment (quarantined); a person pins chat-prod to a hostile
    value; 1.2.0 deployed (its canary running) and promoted to chat-prod; 1.3.0 pushed, its pull
    request open."""
    standin = env.standin
    first = deploy(env, "1.1.0")
    standin.post_comment_as("alice", REPO, first, "/gitops rollback")  # the revert merges by itself
    env.run_jobs()
    standin.commit(REPO, "pin-prod", {"apps/chat/values-prod.yaml": f"image:\n  tag: '{XSS_VERSION}'\n"})
    pinned = standin.open_pull_request(REPO, head="pin-prod", title=XSS_TITLE, user="mallory")
    standin.merge_pull_request(REPO, pinned, user="alice")
    env.run_jobs()
    second = deploy(env, "1.2.0")
    standin.post_comment_as("alice", REPO, second, "/gitops promote")
    env.run_jobs()
    promotion = next(p for p in standin.pulls(REPO) if p.head_ref == "gitops-bot/chat-prod/1.2.0")
    standin.merge_pull_request(REPO, promotion.number, user="alice")
    env.run_jobs()
    assert env.post_registry(distribution_push("serving/chat", "1.3.0", "sha256:" + "e" * 64)) == 202
    env.run_jobs()
    pending = next(p for p in standin.pulls(REPO) if p.head_ref == "gitops-bot/chat/1.3.0")
    return {
        "first": first,
        "pinned": pinned,
        "second": second,
        "promotion": promotion.number,
        "pending": pending.number,
    }


def test_from_the_overview_to_a_deployment_and_its_quarantine_lifted(env: BotEnv, page: Any) -> None:
    from playwright.sync_api import expect

    dialogs: list[tuple[str, str]] = []

    def answer(dialog: Any) -> None:
        dialogs.append((dialog.type, dialog.message))
        dialog.accept()

    page.on("dialog", answer)
    numbers = off_thread(history_of_a_few_days, env)
    html = env.standin.html_base

    with served(env.client.app) as base:
        page.goto(f"{base}/")
        expect(page.locator("h1")).to_have_text("Overview")
        chat = page.locator('tr[data-deployment="chat"]')
        prod = page.locator('tr[data-deployment="chat-prod"]')
        expect(page.locator("tr.group-head")).to_have_count(1)
        expect(page.locator("tr.group-head")).to_contain_text("chat")
        expect(chat.locator("td.version")).to_have_text("1.2.0")
        expect(chat.locator("td.previous")).to_have_text("1.0.0")
        expect(chat.locator(".state")).to_have_text("analysing")
        expect(chat.locator("td.state-cell")).to_contain_text("0 of 3 intervals")
        expect(chat.locator(".quarantine-note")).to_have_text("quarantined: 1.1.0")
        pending = chat.locator("td.pulls a", has_text=f"#{numbers['pending']}")
        expect(pending).to_have_attribute("href", f"{html}/{REPO}/pull/{numbers['pending']}")
        expect(chat.locator("td.pulls")).to_contain_text("update 1.3.0")
        expect(chat.locator("td.change")).to_contain_text(f"#{numbers['second']} merged: chat 1.0.0 → 1.2.0")
        expect(prod.locator("td.version")).to_have_text("1.2.0")
        expect(prod.locator("td.previous")).to_have_text(XSS_VERSION)  # text, not markup
        expect(prod.locator(".state")).to_have_text("deployed")
        expect(prod).to_contain_text("prod")
        assert page.evaluate("window.__xss") is None and page.locator("script:not([src])").count() == 0
        screenshot(page, "console-overview")

        # Live: a newer version pushed while the page is open shows up in place (no navigation)
        # when the tab is looked at again, as it does every 30 s while it is visible.
        def push_newer() -> None:
            assert env.post_registry(distribution_push("serving/chat", "1.4.0", "sha256:" + "f" * 64)) == 202
            env.run_jobs()

        off_thread(push_newer)
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        expect(chat.locator("td.pulls")).to_contain_text("update 1.4.0")
        expect(page.locator("#deployments")).to_have_attribute("data-refreshed", re.compile(r"^\d{4}-"))
        assert page.url == f"{base}/"

        chat.get_by_role("link", name="chat", exact=True).click()
        expect(page).to_have_url(f"{base}/deployments/acme/gitops/chat")
        expect(page.locator("h1")).to_have_text("chat")
        history = page.locator("table.history tbody tr")
        expect(history).to_have_count(4)
        expect(history.nth(0)).to_contain_text("update")
        expect(history.nth(0)).to_contain_text("1.0.0 → 1.2.0")
        expect(history.nth(1).locator(".kind")).to_have_text("revert")
        expect(history.nth(1)).to_contain_text("1.1.0 → 1.0.0")
        link = history.nth(2).locator("td.title a")
        expect(link).to_have_attribute("href", f"{html}/{REPO}/pull/{numbers['first']}")
        expect(page.locator("ul.timeline.chain li")).to_have_count(2)
        expect(page.locator("ul.timeline.chain li.stage-current")).to_contain_text("chat")
        expect(page.locator("ul.timeline.chain li").nth(1)).to_contain_text("runs what chat runs")
        quarantined = page.locator("table.quarantines tbody tr")
        expect(quarantined).to_have_count(1)
        expect(quarantined).to_contain_text("1.1.0")
        expect(quarantined).to_contain_text("/gitops rollback by @alice")
        screenshot(page, "console-deployment")

        # Lift: confirmed, the deploy permission of the console's login, audited.
        viewer = page.locator("header .viewer").inner_text().split("·")[0].strip()
        env.standin.set_permission(REPO, viewer, "maintain")
        page.get_by_role("button", name="Lift the quarantine of 1.1.0").click()
        expect(page.locator(".flash")).to_contain_text("Lifted the quarantine of 1.1.0")
        expect(page.locator("table.quarantines")).to_have_count(0)
        expect(page.locator(".quarantines-empty")).to_be_visible()
        assert dialogs == [
            (
                "confirm",
                "Lift the quarantine of chat 1.1.0? The bot may then propose it, and older versions, again.",
            )
        ]
        assert [a["actor"] for a in off_thread(env.actions, "quarantine.lift")] == [viewer]
        assert off_thread(env.services.quarantine.versions, repo=REPO, deployment="chat") == frozenset()
        screenshot(page, "console-deployment-lifted")

        page.locator("ul.timeline.chain").get_by_role("link", name="chat-prod").click()
        expect(page).to_have_url(f"{base}/deployments/acme/gitops/chat-prod")
        rows = page.locator("table.history tbody tr")
        expect(rows.nth(0).locator(".kind")).to_have_text("promotion")
        expect(rows.nth(1)).to_contain_text(XSS_TITLE)
        expect(rows.nth(1)).to_contain_text(XSS_VERSION)
        expect(rows.nth(1).locator("td.title a")).to_have_attribute(
            "href", f"{html}/{REPO}/pull/{numbers['pinned']}"
        )
        assert page.evaluate("window.__xss") is None and page.locator("table.history img").count() == 0
        screenshot(page, "console-deployment-prod")

        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{base}/")
        expect(page.locator('tr[data-deployment="chat"] .state')).to_have_text("analysing")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than a phone
        screenshot(page, "console-overview-phone")
        page.goto(f"{base}/deployments/acme/gitops/chat")
        expect(page.locator("table.history tbody tr")).to_have_count(4)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "console-deployment-phone")
    assert [kind for kind, _message in dialogs] == ["confirm"] and page.evaluate("window.__xss") is None
