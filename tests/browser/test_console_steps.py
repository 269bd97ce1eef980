"""A canary climbing traffic steps, on the Analysis page in a real browser: the ladder with each
step's weight, status and commit, live while it climbs, on a phone too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_console_analysis import latest_analysis_id, off_thread
from tests.integration.deployments.test_traffic_steps import (
    deploy,
    drive,
    environment,
    exporter,
    prometheus,
)
from tests.support.botenv import BotEnv, served
from tests.support.browser import screenshot
from tests.support.prometheus import PrometheusServer
from tests.support.vllm_exporter import Traffic, VllmExporter

__all__ = ["exporter", "prometheus"]
VERSION = "3.1.0"


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str, prometheus: PrometheusServer) -> Iterator[BotEnv]:
    with environment(tmp_path, sqlite_database_url, prometheus, shadow=True) as built:
        yield built


def test_the_ladder_is_shown_and_follows_the_climb(env: BotEnv, exporter: VllmExporter, page: Any) -> None:
    from playwright.sync_api import expect

    exporter.set("chat", VERSION, Traffic())
    off_thread(deploy, env, VERSION)
    analysis_id = latest_analysis_id(env)
    with served(env.client.app) as base:
        page.goto(f"{base}/analyses/{analysis_id}")
        steps = page.locator("table.steps tbody tr")
        expect(steps).to_have_count(4)
        expect(steps.nth(0)).to_contain_text("shadow (25% mirrored)")
        expect(steps.nth(0)).to_contain_text("judging")
        expect(steps.nth(1)).to_contain_text("pending")
        off_thread(drive, env, lambda a: a.step == 2 and a.status == "running")
        expect(steps.nth(1)).to_contain_text("passed", timeout=10_000)  # live: the page reloads itself
        expect(steps.nth(2)).to_contain_text("judging")
        expect(steps.nth(2).locator("a")).to_have_text("#3")  # the step's pull request
        screenshot(page, "console-analysis-steps")
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "console-analysis-steps-phone")
        finished = off_thread(drive, env, lambda a: a.status == "passed")
        assert finished.status == "passed"
