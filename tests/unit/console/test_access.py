"""Who may reach the console: the pure decisions of ``bot.console.access`` and the headers."""

from __future__ import annotations

from typing import Any

import pytest

from bot.console.access import (
    cookie_secure,
    effective_mode,
    is_local_peer,
    is_loopback,
    is_open_path,
    safe_next,
    same_secret,
    serving_refusal,
    serving_settings,
    session_key,
    sign_in_repos,
    start_address,
    token_mark,
    wants_page,
    without_query_parameter,
)
from bot.console.github_oauth import authorize_url
from bot.console.headers import CONSOLE_POLICY, security_headers
from bot.settings import Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("192.168.1.2", False),
        ("bot.example.com", False),
        ("", False),
    ],
)
def test_loopback_is_this_machine_only(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("peer", "local"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        (None, True),
        ("testclient", True),
        ("203.0.113.9", False),
        ("10.1.1.1", False),
    ],
)
def test_a_local_peer_is_loopback_a_unix_socket_or_in_process(peer: str | None, local: bool) -> None:
    assert is_local_peer(peer) is local


@pytest.mark.parametrize(
    ("values", "host", "names"),
    [
        ({}, "127.0.0.1", None),
        ({"console_auth": "none"}, "localhost", None),
        ({}, "0.0.0.0", ["GITOPS_BOT_CONSOLE_AUTH is not set", "0.0.0.0", "GITOPS_BOT_CONSOLE_AUTH=github"]),
        ({"console_auth": "none"}, "10.0.0.5", ["GITOPS_BOT_CONSOLE_AUTH=none", "loopback", "=token"]),
        ({"console_auth": "token"}, "0.0.0.0", ["GITOPS_BOT_CONSOLE_TOKEN", "init-env"]),
        ({"console_auth": "token", "console_token": ""}, "127.0.0.1", ["GITOPS_BOT_CONSOLE_TOKEN"]),
        ({"console_auth": "token", "console_token": "t"}, "0.0.0.0", None),
        ({"console_auth": "github"}, "0.0.0.0", ["GITOPS_BOT_GITHUB_OAUTH_CLIENT_ID", "/login/callback"]),
        ({"console_auth": "github", "github_oauth_client_id": "id"}, "0.0.0.0", ["CLIENT_SECRET"]),
        (
            {"console_auth": "github", "github_oauth_client_id": "id", "github_oauth_client_secret": "s"},
            "0.0.0.0",
            None,
        ),
    ],
)
def test_serve_refuses_a_console_without_sign_in_beyond_loopback(
    values: dict[str, Any], host: str, names: list[str] | None
) -> None:
    refusal = serving_refusal(settings(**values), host)
    if names is None:
        assert refusal is None
    else:
        assert refusal is not None
        for name in names:
            assert name in refusal


@pytest.mark.parametrize(
    ("setting", "public_url", "host", "secure"),
    [
        (None, None, "127.0.0.1", False),
        (None, None, "0.0.0.0", True),
        (None, "https://ops.example.com", "127.0.0.1", True),
        (None, "http://bot.internal:8080", "0.0.0.0", False),
        (None, None, None, False),  # an app built without a known host (tests, TestClient)
        (True, None, "127.0.0.1", True),
        (False, "https://ops.example.com", "0.0.0.0", False),
    ],
)
def test_the_cookie_is_secure_unless_served_over_plain_http(
    setting: bool | None, public_url: str | None, host: str | None, secure: bool
) -> None:
    assert cookie_secure(setting, public_url, host) is secure


def test_serve_decides_the_mode_and_the_secure_flag() -> None:
    served = serving_settings(settings(), "127.0.0.1")
    assert (served.console_auth, served.console_cookie_secure) == ("none", False)
    served = serving_settings(settings(console_auth="token", console_token="t"), "0.0.0.0")
    assert (served.console_auth, served.console_cookie_secure) == ("token", True)
    assert effective_mode(None) == "none" and effective_mode("github") == "github"


def test_the_session_key_is_configured_or_derived_from_the_modes_secret() -> None:
    assert session_key(settings(console_session_secret="k"), "none") == "k"
    assert session_key(settings(console_session_secret="k", console_token="t"), "token") == "k"
    from_token = session_key(settings(console_token="t"), "token")
    assert (
        from_token and from_token != "t" and from_token == session_key(settings(console_token="t"), "token")
    )
    assert session_key(settings(console_token="u"), "token") != from_token  # a new token ends sessions
    from_oauth = session_key(settings(github_oauth_client_secret="s"), "github")
    assert from_oauth and from_oauth != from_token
    assert session_key(settings(console_token="t"), "none") is None  # random per process


def test_a_token_session_keeps_a_digest_never_the_token() -> None:
    mark = token_mark("secret-token")
    assert "secret-token" not in mark and mark == token_mark("secret-token") != token_mark("other")


@pytest.mark.parametrize(
    ("sent", "expected", "same"),
    [("abc", "abc", True), ("abc", "abd", False), ("", "", False), (None, "abc", False), ("ü", "abc", False)],
)
def test_secrets_compare_in_constant_time_and_never_match_empty(
    sent: str | None, expected: str, same: bool
) -> None:
    assert same_secret(sent, expected) is same


@pytest.mark.parametrize(
    ("path", "accept", "page"),
    [
        ("/locks", "text/html,application/xhtml+xml,*/*;q=0.8", True),
        ("/locks", "application/json", False),
        ("/locks", None, False),
        ("/runs/3/stream", "text/event-stream", False),
        ("/api/locks", "text/html", False),
        ("/api", "text/html", False),
    ],
)
def test_browsers_get_pages_and_everything_else_json(path: str, accept: str | None, page: bool) -> None:
    assert wants_page(path, accept) is page


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("/locks?limit=5", "/locks?limit=5"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/a\r\nSet-Cookie: x=y", "/"),
    ],
)
def test_a_sign_in_returns_to_this_console_only(value: str | None, kept: str) -> None:
    assert safe_next(value) == kept


def test_the_token_is_taken_out_of_the_address() -> None:
    assert without_query_parameter("/locks", "token=t&limit=5", "token") == "/locks?limit=5"
    assert without_query_parameter("/locks", "token=t", "token") == "/locks"
    assert without_query_parameter("/runs", "", "token") == "/runs"


@pytest.mark.parametrize(
    ("path", "open_"),
    [
        ("/healthz", True),
        ("/readyz", True),
        ("/metrics", True),
        ("/webhooks/github", True),
        ("/slack/commands", True),
        ("/internal/terraform-jobs/3/bundle", True),
        ("/login", True),
        ("/login/callback", True),
        ("/logout", True),
        ("/console/static/console.css", True),
        ("/api/docs", True),
        ("/openapi.json", True),
        ("/", False),
        ("/api/events", False),
        ("/locks", False),
        ("/loginx", False),
        ("/console/other", False),
        ("/no-such-page", False),
    ],
)
def test_only_probes_webhooks_sign_in_and_static_files_are_open(path: str, open_: bool) -> None:
    assert is_open_path(path) is open_


def test_github_sign_in_looks_at_the_named_repositories() -> None:
    assert sign_in_repos(["acme/gitops", "Acme/GitOps"], ["acme/infra", "acme/*", "acme/app-?"]) == [
        "acme/gitops",
        "acme/infra",
    ]
    assert sign_in_repos([], ["acme/*"]) == []


def test_the_start_up_line_shows_the_token_only_on_loopback() -> None:
    token = settings(console_auth="token", console_token="t0k/en")
    assert start_address(token, "127.0.0.1", 8080) == "http://127.0.0.1:8080/login?token=t0k%2Fen"
    assert start_address(token, "0.0.0.0", 8080) == "http://0.0.0.0:8080/"
    assert start_address(settings(), "::1", 9000) == "http://[::1]:9000/"
    public = settings(console_auth="token", console_token="t", public_url="https://ops.example.com/")
    assert start_address(public, "127.0.0.1", 8080) == "https://ops.example.com/login?token=t"


def test_the_authorize_address_is_githubs_web_host() -> None:
    assert settings().github_web_url == "https://github.com"
    enterprise = settings(github_api_url="https://git.example.com/api/v3/", forge="github")
    assert enterprise.github_web_url == "https://git.example.com"
    assert enterprise.clone_url("acme/gitops") == "https://git.example.com/acme/gitops.git"
    url = authorize_url("https://github.com", "Iv1.x", "https://ops.example.com/login/callback", "s t")
    assert url == (
        "https://github.com/login/oauth/authorize?client_id=Iv1.x"
        "&redirect_uri=https%3A%2F%2Fops.example.com%2Flogin%2Fcallback&state=s+t&allow_signup=false"
    )


def test_every_answer_forbids_inline_code_framing_and_other_origins() -> None:
    headers = security_headers("/locks")
    assert headers["Content-Security-Policy"] == CONSOLE_POLICY
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in CONSOLE_POLICY
    assert "unsafe-inline" not in CONSOLE_POLICY
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    docs = security_headers("/api/docs")["Content-Security-Policy"]
    assert "https://cdn.jsdelivr.net" in docs and "frame-ancestors 'none'" in docs
