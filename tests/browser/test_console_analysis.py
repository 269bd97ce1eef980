"""The Analysis page in a real browser, on real data: a canary judged on a real Prometheus scraping a
vLLM-shaped exporter fails; the page follows it live, its chart marks the breach, an alert's
hostile text stays text, and "Roll back now" opens the revert pull request on the GitHub stand-in."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from bot.storage.models import Analysis, AnalysisInterval
from handlers.deployments import due_analysis_steps
from tests.integration.deployments.test_canary_flow import (
    alert,
    analyse_until_done,
    deploy,
    exporter,
    prometheus,
)
from tests.support.botenv import REGISTRY_TOKEN, BotEnv, bot_env, served
from tests.support.browser import screenshot
from tests.support.prometheus import PrometheusServer
from tests.support.vllm_exporter import Traffic, VllmExporter

__all__ = ["exporter", "prometheus"]  # the canary flow's module fixtures: one exporter, one Prometheus

REPO = "acme/gitops"
# No metrics named: the vLLM defaults (time to first token against the stable version, error rate,
# throughput and KV-cache usage shown as evidence). on_failure: notify, so a person rolls back.
CONFIG = """\
version: 1
deployments:
  - name: chat
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets: [{file: apps/chat/values.yaml, key: image.tag}]
    canary:
      interval: 3s
      duration: 30s
      failure_limit: 3
      inconclusive_limit: 5
      min_requests: 5
      on_failure: notify
    promote: {to: chat-prod}
  - name: chat-prod
    trigger: {image: {repository: registry.example.com/serving/chat, tags: "regex:^promoted-only$"}}
    targets: [{file: apps/chat/values-prod.yaml, key: image.tag}]
"""
FILES = {
    ".gitops-bot.yaml": CONFIG,
    "apps/chat/values.yaml": "image:\n  tag: 1.0.0  # stable\n",
    "apps/chat/values-prod.yaml": "image:\n  tag: 1.0.0\n",
}
XSS_NAME = '<img src=x onerror="window.__xss=1">'
XSS_SUMMARY = "<script>window.__xss=2</script>"
T = TypeVar("T")
VERSION = "2.1.0"  # not one the canary flow's tests use: its series never mix with theirs


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str, prometheus: PrometheusServer) -> Iterator[BotEnv]:
    with bot_env(
        tmp_path,
        sqlite_database_url,
        repo=REPO,
        files=FILES,
        prometheus_url=prometheus.url,
        prometheus_public_url=prometheus.url,  # the same here; in a cluster, the address people use
    ) as built:
        built.standin.set_permission(REPO, "alice", "write")
        yield built


def hostile_alert() -> dict[str, Any]:
    """A firing alert for the canary whose name, summary and link are hostile."""
    body = alert("chat", wave=7)
    body["commonLabels"]["alertname"] = XSS_NAME
    body["commonAnnotations"]["summary"] = XSS_SUMMARY
    for item in body["alerts"]:
        item["labels"]["alertname"] = XSS_NAME
        item["annotations"]["summary"] = XSS_SUMMARY
        item["generatorURL"] = "javascript:window.__xss=3"
    return body


def intervals(env: BotEnv) -> int:
    with env.services.database.sessions() as session:
        return int(session.scalar(select(func.count(AnalysisInterval.id))) or 0)


def measure_until(env: BotEnv, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while intervals(env) < count:
        assert time.monotonic() < deadline, f"fewer than {count} intervals were measured"
        due_analysis_steps(env.services)  # what the scheduler's leader does every second
        env.run_jobs()
        time.sleep(0.2)


def off_thread(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run the bot's side (its jobs use ``asyncio.run``) outside Playwright's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work, *args, **kwargs).result()


def latest_analysis_id(env: BotEnv) -> int:
    with env.services.database.sessions() as session:
        found = session.scalars(select(Analysis.id).order_by(Analysis.id.desc())).first()
    assert found is not None
    return found


def test_a_failing_canary_is_followed_live_charted_and_rolled_back(
    env: BotEnv, exporter: VllmExporter, page: Any
) -> None:
    from playwright.sync_api import expect

    dialogs: list[tuple[str, str]] = []

    def answer(dialog: Any) -> None:
        dialogs.append((dialog.type, dialog.message))
        dialog.accept()

    page.on("dialog", answer)
    exporter.set("chat", VERSION, Traffic())  # healthy at first
    off_thread(deploy, env, VERSION)
    analysis_id = latest_analysis_id(env)

    with served(env.client.app) as base:
        page.goto(f"{base}/analyses/{analysis_id}")
        decision = page.locator(".decision")
        expect(decision.locator(".state").first).to_have_text("analysing")
        expect(page.locator("[data-stream]")).to_have_count(1)

        # Live: the page reloads by itself when the bot records an interval (server-sent events).
        off_thread(measure_until, env, 1)
        expect(decision).to_contain_text("1 of 10 intervals measured", timeout=10_000)

        # The canary turns bad, and an alert with hostile text names it: failed intervals.
        exporter.set("chat", VERSION, Traffic(error_ratio=0.5))
        headers = {"Authorization": f"Bearer {REGISTRY_TOKEN}"}
        posted = off_thread(env.client.post, "/webhooks/alertmanager", json=hostile_alert(), headers=headers)
        assert posted.status_code == 202
        off_thread(env.run_jobs)
        finished = off_thread(analyse_until_done, env)
        assert finished.status == "failed", finished.reason

        # The page learns the end by itself too, and shows the decision and the breach.
        expect(decision.locator(".state").first).to_have_text("failed", timeout=10_000)
        expect(page.locator("[data-stream]")).to_have_count(0)
        expect(decision).to_contain_text("next: notify only")
        error_rate = page.locator(
            "figure.metric", has=page.locator("figcaption strong", has_text="error_rate")
        )
        failed_points = error_rate.locator('path[data-status="fail"]')
        assert failed_points.count() >= 2
        assert "FAILED" in failed_points.first.locator("title").text_content()
        link = failed_points.first.locator("xpath=..").get_attribute("href")
        assert link.startswith(f"{env.settings.prometheus_url}/graph?g0.expr=")
        assert "g0.end_input=" in link and "g0.range_input=" in link
        with urllib.request.urlopen(link, timeout=10) as graph:  # a link Prometheus answers
            assert graph.status == 200
        assert error_rate.locator("path.bound").count() == 1
        assert error_rate.locator('path.marker.hollow[data-status="missing"]').count() == 1  # the alert's
        ttft = page.locator("figure.metric", has=page.locator("figcaption strong", has_text="ttft_p99"))
        assert ttft.locator("path.baseline").count() == 1  # the stable version's values
        assert ttft.locator("svg .axis-title").first.text_content() == "milliseconds"
        assert page.locator('svg.metric-chart[role="img"][aria-label]').count() == 4

        # The hostile alert is text: shown as written, never run, never a link.
        assert page.evaluate("window.__xss") is None
        expect(page.locator("table.intervals")).to_contain_text(f"alert firing: {XSS_NAME} ({XSS_SUMMARY})")
        assert page.locator('a[href^="javascript:"]').count() == 0
        screenshot(page, "console-analysis-failed")

        # "Roll back now": confirmed, permission-checked as the signed-in viewer, audited.
        viewer = page.locator("header .viewer").inner_text().split("·")[0].strip()
        env.standin.set_permission(REPO, viewer, "write")
        page.get_by_role("button", name="Roll back now").click()
        expect(page.locator(".flash")).to_contain_text("Opened revert #", timeout=30_000)
        assert dialogs == [
            (
                "confirm",
                f"Roll back chat {VERSION}? This opens a revert pull request and quarantines the version.",
            )
        ]
        (revert,) = [p for p in env.standin.pulls(REPO) if p.head_ref == f"gitops-bot/revert/chat/{VERSION}"]
        assert revert.state == "open" and revert.title.startswith('Revert "')
        assert f"pressed in the console by {viewer}" in revert.body
        expect(page.locator("#actions")).to_contain_text("No rollback: rollback already started")
        expect(page.locator(".timeline")).to_contain_text(f"Opened revert #{revert.number}")
        assert [a["actor"] for a in off_thread(env.actions, "console.rollback")] == [viewer]
        assert page.evaluate("window.__xss") is None
        screenshot(page, "console-analysis-rolled-back")

        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        expect(page.locator(".decision .state").first).to_have_text("failed")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than a phone
        box = page.locator("svg.metric-chart").first.bounding_box()
        assert box is not None and box["width"] <= 390
        screenshot(page, "console-analysis-phone")
        chart = page.locator("figure.metric", has=page.locator("figcaption strong", has_text="error_rate"))
        chart.screenshot(path=str(screenshot(page, "console-analysis-phone-chart")))  # the chart, close up
