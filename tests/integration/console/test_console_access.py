"""Who may look at the console and act in it, over HTTP: the real app on the GitHub stand-in.

GitHub sign-in runs the OAuth web flow against the stand-in (``github_standin_oauth``): the bot's
``/login`` sends the browser to the stand-in's authorize page, whose redirect comes back to
``/login/callback``; the bot exchanges the code and reads ``GET /user`` over real HTTP. Token
sign-in, bearer tokens, CSRF, the default-deny gate and the security headers are checked on
the same app. A tiny route of this test (``/probe``) stands in for any page and action.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.console.security import Viewer, permission_refusal, require_action, require_viewer
from bot.settings import Settings
from tests.support.botenv import BotEnv, bot_env

REPO = "acme/gitops"
CONFIG = """\
version: 1
permissions:
  unlock: [team:sre]
deployments:
  - name: chat
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets: [{file: apps/chat/values.yaml, key: image.tag}]
"""
FILES = {".gitops-bot.yaml": CONFIG, "apps/chat/values.yaml": "image:\n  tag: 1.0.0\n"}
CLIENT_ID, CLIENT_SECRET = "Iv1.console", "oauth-client-secret"
TOKEN = "console-token-0123456789"
PAGE = {"Accept": "text/html,application/xhtml+xml"}


def add_probe(client: TestClient) -> None:
    """A page and an action of this test's own, guarded like every console page and action."""

    async def look(viewer: Viewer = Depends(require_viewer)) -> dict[str, str]:
        return {"login": viewer.login, "via": viewer.via}

    async def act(viewer: Viewer = Depends(require_action)) -> dict[str, str]:
        return {"acted": viewer.login}

    client.app.add_api_route("/probe", look, methods=["GET"])  # type: ignore[attr-defined]
    client.app.add_api_route("/probe", act, methods=["POST"])  # type: ignore[attr-defined]


@pytest.fixture
def github(tmp_path: Path, sqlite_database_url: str) -> Iterator[BotEnv]:
    with bot_env(
        tmp_path,
        sqlite_database_url,
        repo=REPO,
        files=FILES,
        console_auth="github",
        github_oauth_client_id=CLIENT_ID,
        github_oauth_client_secret=CLIENT_SECRET,
    ) as env:
        env.standin.configure_oauth_app(
            CLIENT_ID, CLIENT_SECRET, callback_url="http://testserver/login/callback"
        )
        env.standin.set_permission(REPO, "alice", "read")
        env.standin.set_permission(REPO, "bob", "write")
        env.standin.add_team_member("acme", "sre", "carol")
        env.standin.set_permission(REPO, "carol", "read")
        add_probe(env.client)
        yield env


@pytest.fixture
def token(tmp_path: Path, sqlite_database_url: str) -> Iterator[BotEnv]:
    with bot_env(
        tmp_path,
        sqlite_database_url,
        repo=REPO,
        files=FILES,
        console_auth="token",
        console_token=TOKEN,
        console_login="ops-bot",
    ) as env:
        env.standin.set_permission(REPO, "ops-bot", "maintain")
        add_probe(env.client)
        yield env


def session_of(client: TestClient) -> dict[str, Any]:
    """What the signed session cookie holds (readable by its owner; signed, not encrypted)."""
    value = client.cookies.get("gitops_bot_console")
    assert value, "no session cookie"
    payload = value.split(".", 1)[0]
    return json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))


def sign_in_with_github(env: BotEnv, login: str | None, *, next_path: str = "/probe") -> httpx.Response:
    """A browser's round trip: /login → GitHub's authorize page → /login/callback."""
    env.standin.approve_oauth_as(login)
    started = env.client.get("/login", params={"next": next_path}, follow_redirects=False)
    assert started.status_code == 302
    authorize = started.headers["location"]
    assert authorize.startswith(f"{env.standin.base_url}/login/oauth/authorize?")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    assert query["client_id"] == [CLIENT_ID] and query["redirect_uri"] == ["http://testserver/login/callback"]
    assert "scope" not in query  # the login is all the console needs
    at_github = httpx.get(authorize, follow_redirects=False)
    assert at_github.status_code == 302
    back = at_github.headers["location"]
    assert back.startswith("http://testserver/login/callback?")
    return env.client.get(back.removeprefix("http://testserver"), headers=PAGE, follow_redirects=False)


def sign_ins(env: BotEnv) -> list[dict[str, Any]]:
    """The audit log's sign-ins, read from the database (the reader may not be signed in)."""
    from sqlalchemy import select

    from bot.storage.models import Action

    with env.services.database.sessions() as session:
        rows = session.scalars(select(Action).where(Action.kind == "console.sign_in").order_by(Action.id))
        return [{"actor": row.actor, "outcome": row.outcome, "details": row.details} for row in rows]


def csrf_of(env: BotEnv) -> str:
    found = session_of(env.client).get("csrf")
    assert isinstance(found, str) and re.fullmatch(r"[0-9a-f]{64}", found)
    return found


def test_github_sign_in_round_trip_keeps_only_the_login(github: BotEnv) -> None:
    assert github.client.get("/probe").status_code == 401
    back = sign_in_with_github(github, "alice")
    assert (back.status_code, back.headers["location"]) == (303, "/probe")
    cookie = back.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "Max-Age=43200" in cookie
    assert "secure" not in cookie.lower()  # an app built without a known host: serve decides
    assert github.client.get("/probe").json() == {"login": "alice", "via": "github"}
    held = session_of(github.client)
    assert set(held) == {"login", "via", "csrf"}
    (issued,) = github.standin.oauth_tokens
    assert issued not in cookie
    # The exchange was GitHub's documented one: the secret went to the token endpoint only.
    exchange = [r for r in github.standin.oauth_requests if r[1] == "/login/oauth/access_token"]
    assert exchange[0][2]["client_secret"] == CLIENT_SECRET and exchange[0][2]["redirect_uri"].endswith(
        "/callback"
    )
    (audited,) = sign_ins(github)
    assert (audited["actor"], audited["outcome"]) == ("alice", "done")


def test_a_github_login_that_may_not_see_the_repositories_is_refused(github: BotEnv) -> None:
    refused = sign_in_with_github(github, "mallory")
    assert refused.status_code == 403
    assert "mallory may not look at this console" in refused.text and "acme/gitops" in refused.text
    assert "login" not in session_of(github.client)
    assert github.client.get("/probe").status_code == 401
    (audited,) = sign_ins(github)
    assert (audited["actor"], audited["outcome"]) == ("mallory", "refused")


def test_a_forged_state_a_denial_and_a_reused_code_sign_nobody_in(github: BotEnv) -> None:
    github.client.get("/login", follow_redirects=False)
    forged = github.client.get("/login/callback", params={"code": "x", "state": "forged"}, headers=PAGE)
    assert forged.status_code == 400 and "not started here" in forged.text

    denied = sign_in_with_github(github, None)
    assert denied.status_code == 403 and "The user has denied your application access." in denied.text

    github.standin.approve_oauth_as("alice")
    started = github.client.get("/login", follow_redirects=False)
    back = httpx.get(started.headers["location"], follow_redirects=False).headers["location"]
    path = back.removeprefix("http://testserver")
    assert github.client.get(path, follow_redirects=False).status_code == 303
    github.client.cookies.clear()
    github.client.get("/login", follow_redirects=False)  # a new sign-in, replaying the old callback
    replayed = github.client.get(path, headers=PAGE)
    assert replayed.status_code == 400 and github.client.get("/probe").status_code == 401


def test_actions_are_decided_by_the_logins_permissions(github: BotEnv) -> None:
    services = github.services
    refusal = permission_refusal(services, Viewer("alice", "github"), REPO, "rollback")
    assert refusal == "alice has read permission; this needs write permission or higher"
    assert permission_refusal(services, Viewer("bob", "github"), REPO, "rollback") is None
    # permissions: unlock: [team:sre] in the repository's config: the team, not the level, decides.
    assert permission_refusal(services, Viewer("carol", "github"), REPO, "unlock") is None
    assert "team:sre" in (permission_refusal(services, Viewer("bob", "github"), REPO, "unlock") or "")


def test_an_action_needs_the_sessions_csrf_token_and_sign_out_ends_the_session(github: BotEnv) -> None:
    sign_in_with_github(github, "bob")
    assert github.client.post("/probe").status_code == 403
    assert github.client.post("/probe", data={"csrf": "0" * 64}).status_code == 403
    assert github.client.post("/probe", data={"csrf": "ü"}).status_code == 403  # never a 500
    assert github.client.post("/probe", data={"csrf": csrf_of(github)}).json() == {"acted": "bob"}
    assert github.client.post("/probe", headers={"X-CSRF-Token": csrf_of(github)}).status_code == 200
    assert github.client.post("/logout", data={"csrf": "forged"}, headers=PAGE).status_code == 403
    out = github.client.post("/logout", data={"csrf": csrf_of(github)}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/login?signed_out=1")
    page = github.client.get("/login?signed_out=1")
    assert "You are signed out." in page.text and "Sign in with GitHub" in page.text
    assert github.client.get("/probe").status_code == 401


def test_token_sign_in_by_form_by_visit_and_by_bearer(token: BotEnv) -> None:
    client = token.client
    refused = client.get("/probe")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    sent_away = client.get("/probe?limit=5", headers=PAGE, follow_redirects=False)
    assert (sent_away.status_code, sent_away.headers["location"]) == (303, "/login?next=%2Fprobe%3Flimit%3D5")
    form = client.get("/login?next=/probe")
    assert form.status_code == 200 and 'name="token"' in form.text and TOKEN not in form.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', form.text)
    assert csrf is not None
    assert client.post("/login", data={"token": TOKEN, "next": "/probe"}).status_code == 403  # no CSRF
    wrong = client.post("/login", data={"token": "nope", "csrf": csrf.group(1), "next": "/probe"})
    assert wrong.status_code == 401 and "not the console&#39;s token" in wrong.text
    right = client.post(
        "/login",
        data={"token": TOKEN, "csrf": csrf.group(1), "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert (right.status_code, right.headers["location"]) == (303, "/")
    assert client.get("/probe").json() == {"login": "ops-bot", "via": "token"}
    assert TOKEN not in right.headers["set-cookie"]

    client.cookies.clear()
    visit = client.get(f"/probe?token={TOKEN}&limit=5", follow_redirects=False)
    assert (visit.status_code, visit.headers["location"]) == (303, "/probe?limit=5")
    assert client.get("/api/events").status_code == 200  # the session opens the JSON twins too
    client.cookies.clear()
    assert client.get("/probe?token=wrong", headers=PAGE).status_code == 401

    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/events", headers=bearer).status_code == 200
    assert client.post("/probe", headers=bearer).json() == {"acted": "ops-bot"}  # no CSRF: not forgeable
    assert client.get("/api/events", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert "gitops_bot_console" not in client.get("/healthz").headers.get("set-cookie", "")


def test_token_mode_acts_as_the_configured_login(token: BotEnv) -> None:
    viewer = Viewer("ops-bot", "token")
    assert permission_refusal(token.services, viewer, REPO, "rollback") is None
    assert "team:sre" in (permission_refusal(token.services, viewer, REPO, "unlock") or "")


def test_a_new_token_ends_the_sessions_of_the_old_one(tmp_path: Path, sqlite_database_url: str) -> None:
    def app(console_token: str) -> Any:
        settings = Settings(
            _env_file=None,
            database_url=sqlite_database_url,
            data_dir=tmp_path / "data",
            console_auth="token",
            console_token=console_token,
            console_session_secret="one-key-for-both",
        )
        return create_app(settings)

    with TestClient(app("first-token")) as first:
        first.get("/login?token=first-token", follow_redirects=False)
        assert first.get("/api/events").status_code == 200
        cookie = first.cookies.get("gitops_bot_console")
    with TestClient(app("second-token"), cookies={"gitops_bot_console": cookie}) as second:
        assert second.get("/api/events").status_code == 401


def test_without_sign_in_only_this_machine_is_let_in(tmp_path: Path, sqlite_database_url: str) -> None:
    with bot_env(tmp_path, sqlite_database_url, repo=REPO, files=FILES) as env:
        add_probe(env.client)
        assert env.client.get("/probe").json() == {"login": "console", "via": "none"}
        csrf = env.client.get("/login", follow_redirects=False)
        assert csrf.status_code == 303  # nothing to sign in to
        remote = TestClient(env.client.app, client=("203.0.113.9", 40000))
        for path in ("/probe", "/api/events", "/"):
            assert remote.get(path).status_code == 403, path
        assert remote.get("/healthz").status_code == 200


def test_every_answer_carries_the_security_headers(token: BotEnv) -> None:
    client = token.client
    answers = [
        client.get("/healthz"),
        client.get("/login"),
        client.get("/api/events"),
        client.get("/console/static/console.css"),
        client.post("/webhooks/registry", content=b"{}"),
        client.get("/no-such-page"),
    ]
    for answer in answers:
        assert answer.headers["content-security-policy"].startswith("default-src 'self'"), answer.url
        assert "unsafe-inline" not in answer.headers["content-security-policy"]
        assert (
            answer.headers["x-frame-options"] == "DENY"
            and answer.headers["x-content-type-options"] == "nosniff"
        )
        assert answer.headers["referrer-policy"] == "same-origin"
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]


def test_the_cookie_is_secure_when_told(tmp_path: Path, sqlite_database_url: str) -> None:
    with bot_env(
        tmp_path, sqlite_database_url, repo=REPO, files=FILES,
        console_auth="token", console_token=TOKEN, console_cookie_secure=True,
    ) as env:  # fmt: skip
        visit = env.client.get(f"/login?token={TOKEN}", follow_redirects=False)
        assert "; secure" in visit.headers["set-cookie"].lower()
