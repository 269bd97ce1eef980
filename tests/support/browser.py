"""A real browser for the console's tests: Playwright driving Debian's chromium.

The ``page`` fixture opens a fresh browser context (no cookies) on chromium started the way this
project's machines allow (``--no-sandbox`` as root in a container, no GPU, no background
networking to hosts the network refuses). ``screenshot(page, name)`` keeps a full-page PNG under
``tests/artifacts/`` (git-ignored; CI keeps it as an artefact), to be looked at by a person.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.requirements import require

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return os.environ.get("GITOPS_BOT_TEST_CHROMIUM") or found


# Per module, not per session: while Playwright's sync API runs, its event loop is the running loop
# of the test thread, so every later test calling asyncio.run (BotEnv.run_jobs) would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    require(executable is not None, "Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        require(False, "the playwright package (pip install '.[test]')")
        raise
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
