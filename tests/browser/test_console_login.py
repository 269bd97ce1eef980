"""Signing in to the console in a real browser, against a bot on the GitHub stand-in.

GitHub sign-in: the browser opens a page, is sent to the stand-in's OAuth authorize page (which
approves for the configured login, as a person clicking "Authorize" would) and comes back signed
in; a visitor without a session is refused (JSON: 401) or sent to sign in; GitHub's "Cancel" signs
nobody in. Token sign-in: the page asking for the token, a wrong and a right one, and one visit
with ``?token=``. A POST without the session's CSRF token changes nothing, whether sent from the
console's own origin or by a form on another site (whose POST carries no session cookie at all).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.botenv import BotEnv, bot_env, served
from tests.support.browser import screenshot

REPO = "acme/gitops"
FILES = {
    ".gitops-bot.yaml": (
        "version: 1\ndeployments:\n  - name: chat\n"
        "    trigger: {image: {repository: registry.example.com/serving/chat}}\n"
        "    targets: [{file: apps/chat/values.yaml, key: image.tag}]\n"
    ),
    "apps/chat/values.yaml": "image:\n  tag: 1.0.0\n",
}
CLIENT_ID, CLIENT_SECRET = "Iv1.browser", "browser-oauth-secret"
TOKEN = "browser-console-token-7f3a"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def github(tmp_path: Path, sqlite_database_url: str) -> Iterator[tuple[BotEnv, str]]:
    with bot_env(
        tmp_path,
        sqlite_database_url,
        repo=REPO,
        files=FILES,
        console_auth="github",
        github_oauth_client_id=CLIENT_ID,
        github_oauth_client_secret=CLIENT_SECRET,
    ) as env:
        env.standin.set_permission(REPO, "alice", "read")
        with served(env.client.app) as base:
            env.standin.configure_oauth_app(CLIENT_ID, CLIENT_SECRET, callback_url=f"{base}/login/callback")
            yield env, base


@pytest.fixture
def token(tmp_path: Path, sqlite_database_url: str) -> Iterator[tuple[BotEnv, str]]:
    with (
        bot_env(
            tmp_path, sqlite_database_url, repo=REPO, files=FILES, console_auth="token", console_token=TOKEN
        ) as env,
        served(env.client.app) as base,
    ):
        yield env, base


def both_sizes(page: Any, name: str) -> None:
    screenshot(page, f"{name}-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def forged_cross_site_post(page: Any, action: str) -> Any:
    """What another site can do: a page with a form that posts to the console when submitted.
    Returns the console's answer to that POST."""
    page.goto("about:blank")
    page.set_content(f'<form method="post" action="{action}"><button>win a prize</button></form>')
    with page.expect_response(lambda response: response.request.method == "POST") as answered:
        page.get_by_role("button", name="win a prize").click()
    page.wait_for_load_state()
    return answered.value


def test_github_sign_in_round_trip_and_what_is_refused(github: tuple[BotEnv, str], page: Any) -> None:
    from playwright.sync_api import expect

    env, base = github
    # Nobody signed in: the JSON twin answers 401, a page sends the browser to GitHub.
    assert page.request.get(f"{base}/api/locks").status == 401
    assert page.request.get(f"{base}/locks", headers={"Accept": "application/json"}).status == 401

    env.standin.approve_oauth_as("alice")
    page.goto(f"{base}/locks")
    expect(page).to_have_url(f"{base}/locks")
    expect(page.locator("header .viewer")).to_contain_text("alice")
    authorize = [r for r in env.standin.oauth_requests if r[1] == "/login/oauth/authorize"]
    assert len(authorize) == 1 and authorize[0][2]["redirect_uri"] == f"{base}/login/callback"
    cookie = next(c for c in page.context.cookies() if c["name"] == "gitops_bot_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    screenshot(page, "console-login-github-signed-in")

    # A POST from the console's origin without the session's CSRF token changes nothing.
    status = page.evaluate(f"fetch('{base}/logout', {{method: 'POST'}}).then(r => r.status)")
    assert status == 403
    page.reload()
    expect(page.locator("header .viewer")).to_contain_text("alice")

    page.get_by_role("button", name="sign out").click()
    expect(page).to_have_url(f"{base}/login?signed_out=1")
    expect(page.locator(".flash-ok")).to_contain_text("You are signed out.")
    both_sizes(page, "console-login-signed-out")

    # GitHub's "Cancel": back at the console, signed in as nobody, told why.
    env.standin.approve_oauth_as(None)
    page.get_by_role("link", name="Sign in with GitHub").click()
    expect(page.locator(".flash-error")).to_contain_text("The user has denied your application access.")
    assert page.request.get(f"{base}/api/locks").status == 401
    screenshot(page, "console-login-github-denied")


def test_token_sign_in_and_forged_posts(token: tuple[BotEnv, str], page: Any, browser: Any) -> None:
    from playwright.sync_api import expect

    env, base = token
    page.goto(f"{base}/locks")
    expect(page).to_have_url(f"{base}/login?next=%2Flocks")
    expect(page.get_by_label("Access token")).to_be_visible()
    assert TOKEN not in page.content()
    both_sizes(page, "console-login-token")

    page.get_by_label("Access token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash-error")).to_contain_text("That is not the console's token.")
    screenshot(page, "console-login-token-wrong")

    page.get_by_label("Access token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/locks")
    expect(page.locator("header .viewer")).to_contain_text("console")
    screenshot(page, "console-login-token-signed-in")

    # A form on another site posts to the console: the browser sends no session cookie with a
    # cross-site POST (SameSite=Lax), so the console sees a visitor to sign in (with the cookie
    # it would have been a 403 for the missing CSRF token), and nothing is done.
    answer = forged_cross_site_post(page, f"{base}/locks/1/unlock")
    assert (answer.status, answer.headers["location"]) == (303, "/login?next=%2Flocks%2F1%2Funlock")
    assert not _audited(env, "console.unlock")

    # From the console's own origin, with the session but without its CSRF token: refused.
    page.goto(f"{base}/locks")
    status = page.evaluate(f"fetch('{base}/locks/1/unlock', {{method: 'POST'}}).then(r => r.status)")
    assert status == 403
    assert not _audited(env, "console.unlock")

    # One visit with ?token= in a fresh browser: signed in, and the token leaves the address.
    context = browser.new_context()
    try:
        visitor = context.new_page()
        visitor.goto(f"{base}/locks?token={TOKEN}")
        expect(visitor).to_have_url(f"{base}/locks")
        expect(visitor.locator("header .viewer")).to_contain_text("console")
    finally:
        context.close()


def _audited(env: BotEnv, kind: str) -> list[str]:
    from sqlalchemy import select

    from bot.storage.models import Action

    with env.services.database.sessions() as session:
        return list(session.scalars(select(Action.summary).where(Action.kind == kind)))
