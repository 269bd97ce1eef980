"""The locks and Terraform runs pages in a real browser, against a bot on the GitHub stand-in.

A slow Terraform (a wrapper that prints, waits 2 s, then runs the real one) plans a pull request
in a thread while the browser watches ``/runs/{id}``: its output appears before the run ends,
then the page shows the summary. Then the lock that plan took is released from ``/locks``.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.terraform.runs_store import RunInfo, TerraformRuns
from tests.integration.terraform.test_pull_request_flow import BIGGER, FILES, REPO, open_pr
from tests.support.botenv import BotEnv, bot_env, served
from tests.support.browser import screenshot
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim, terraform_shim

__all__ = ["terraform_shim"]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str, terraform_shim: TerraformShim) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    slow = terraform_shim.bin_dir / "slow-terraform"
    slow.write_text('#!/bin/sh\necho "slow terraform: $1 (waiting 2 s)" >&2\nsleep 2\nexec terraform "$@"\n')
    slow.chmod(0o755)
    with bot_env(
        tmp_path, sqlite_database_url, repo=REPO, files=FILES, gitops_repos=[], terraform_bin="slow-terraform"
    ) as built:
        built.standin.set_permission(REPO, "dev", "write")
        built.standin.set_permission(REPO, "console", "write")  # the console's login without sign-in
        yield built


def first_run(env: BotEnv, worker: threading.Thread, timeout: float = 30) -> RunInfo:
    runs = TerraformRuns(env.services.database)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = runs.newest(1)
        if found:
            return found[0]
        assert worker.is_alive(), "the plan ended without making a run"
        time.sleep(0.05)
    raise AssertionError("no Terraform run started")


def in_background(work: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # handed to the test, which fails with it
            errors.append(error)

    thread = threading.Thread(target=run, name="plan", daemon=True)
    thread.start()
    return thread, errors


def both_sizes(page: Any, name: str) -> None:
    screenshot(page, f"{name}-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def test_a_plan_streams_live_then_shows_its_summary_and_its_lock_is_released(env: BotEnv, page: Any) -> None:
    from playwright.sync_api import expect

    runs = TerraformRuns(env.services.database)
    with served(env.client.app) as base:
        worker, errors = in_background(
            lambda: open_pr(env, "more-gpus", {"terraform/staging/main.tf": BIGGER})
        )
        run = first_run(env, worker)
        page.goto(f"{base}/runs/{run.id}")
        expect(page.locator("h1")).to_contain_text("running")
        output = page.locator("pre.run-output")
        # Terraform's later lines arrive over the stream while the run is still going.
        expect(output).to_contain_text("Terraform has been successfully initialized!", timeout=30_000)
        assert runs.get(run.id).running, "the line appeared only after the run ended"
        expect(page.locator(".run-live")).to_be_visible()
        both_sizes(page, "console-run-live")

        # When it ends the page reloads with its summary.
        expect(page.locator(".run-summary")).to_contain_text(
            "Plan: 1 to add, 0 to change, 0 to destroy.", timeout=60_000
        )
        expect(page.locator("h1")).to_contain_text("succeeded")
        expect(output).to_contain_text("terraform_data.gpu_pool will be created")
        worker.join(timeout=60)
        assert not worker.is_alive() and errors == []
        both_sizes(page, "console-run-done")

        page.goto(f"{base}/runs")
        expect(page.locator("table.runs")).to_contain_text("Plan: 1 to add")
        both_sizes(page, "console-runs")

        # The lock the plan took, released from /locks (after the confirmation).
        (lock,) = env.services.locks.list(REPO)
        page.goto(f"{base}/locks")
        row = page.locator("table.locks tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("terraform/staging")
        expect(row.get_by_role("link", name=f"#{lock.pr_number}")).to_have_attribute(
            "href", lock.pr_url or ""
        )
        both_sizes(page, "console-locks")
        asked: list[str] = []

        def confirm(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.once("dialog", confirm)
        row.get_by_role("button", name="Unlock").click()
        expect(page.locator(".flash-ok")).to_contain_text("Unlocked")
        expect(page.get_by_text("No locks are held.")).to_be_visible()
        assert asked == [
            f"Release the lock on terraform/staging (default) held by #{lock.pr_number} and discard its plan?"
        ]
        assert env.services.locks.list(REPO) == []
        both_sizes(page, "console-locks-unlocked")
        page.goto("about:blank")  # no stream stays open while the server stops
