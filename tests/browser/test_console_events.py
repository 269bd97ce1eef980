"""``/events`` and ``/actions`` in a real browser, on events the bot really handled: registry pushes
(one that opened a pull request on the GitHub stand-in, one refused, one that matched nothing) with
a hostile actor name and a secret in the payload. Filter, open a row, follow it to the event and
the audit log; the hostile text stays text and the secret never reaches the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_console_analysis import off_thread
from tests.integration.deployments.test_canary_flow import FILES, REPO, deploy
from tests.support.botenv import REGISTRY_TOKEN, BotEnv, bot_env, distribution_push, served
from tests.support.browser import screenshot

XSS_ACTOR = "<img src=x onerror=window.__xss=1>ci"


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str) -> Iterator[BotEnv]:
    with bot_env(tmp_path, sqlite_database_url, repo=REPO, files=FILES) as built:
        built.standin.set_permission(REPO, "alice", "write")
        yield built


def pushes(env: BotEnv) -> None:
    deploy(env, "1.1.0")
    refused = distribution_push("serving/chat", "0.9.0", "sha256:" + "d" * 64)
    refused["events"][0]["actor"] = {"name": XSS_ACTOR, "password": "hunter2-not-shown"}
    refused["events"][0]["request"]["useragent"] = f"skopeo {REGISTRY_TOKEN}"
    assert env.post_registry(refused) == 202
    assert env.post_registry(distribution_push("serving/other", "2.0.0", "sha256:" + "e" * 64)) == 202
    env.run_jobs()


def test_filter_open_and_follow_an_event(env: BotEnv, page: Any) -> None:
    from playwright.sync_api import expect

    off_thread(pushes, env)
    with served(env.client.app) as base:
        page.goto(f"{base}/events")
        expect(page.locator("h1")).to_have_text("Events")
        page.select_option('select[name="source"]', "registry")
        page.select_option('select[name="status"]', "ignored")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url("**/events?source=registry*")
        rows = page.locator("table.events > tbody > tr[id^=event-]")
        expect(rows).to_have_count(2)
        expect(page.locator("table.events")).to_contain_text("no deployment's trigger matches serving/other")
        expect(page.locator("table.events")).to_contain_text("0.9.0 is older than the current 1.1.0")

        refused_row = rows.filter(has_text="older")
        details = page.locator("tr.event-more details").nth(1)
        details.locator("summary").click()
        expect(details.locator("table.jobs")).to_contain_text("updates.image_pushed")
        expect(details.locator("pre.payload")).to_contain_text(XSS_ACTOR)  # shown as text
        expect(details.locator("pre.payload")).to_contain_text("[redacted]")
        screenshot(page, "console-events")
        assert REGISTRY_TOKEN not in page.content() and "hunter2-not-shown" not in page.content()

        refused_row.get_by_role("link").first.click()
        expect(page.locator("h1")).to_contain_text("registry image.pushed")
        expect(page.locator(".event-actions")).to_contain_text("Refused to deploy 0.9.0 to chat")
        screenshot(page, "console-event")

        page.goto(f"{base}/actions?outcome=refused&deployment=chat")
        expect(page.locator("h1")).to_have_text("Audit")
        audit = page.locator("table.audit")
        expect(audit).to_contain_text("0.9.0 is older than the current 1.1.0")
        page.locator("table.audit details summary").first.click()
        expect(page.locator("table.audit details pre").first).to_contain_text('"code"')
        screenshot(page, "console-actions")

        page.goto(f"{base}/events?status=bogus")
        expect(page.locator(".flash-error")).to_contain_text("status must be one of")
        assert page.evaluate("window.__xss") is None
